"""Fakes for outside providers: a Twilio HTTP client that never touches the network."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response


@dataclass
class Sent:
    method: str
    uri: str
    data: dict[str, Any]


@dataclass
class FakeTwilioHttp(HttpClient):  # type: ignore[misc]
    """Answers Twilio REST calls from a script of status codes (201 when the script is empty)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Sent] = field(default_factory=list)

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append(Sent(method, uri, dict(data or {})))
        status = self.statuses.pop(0) if self.statuses else 201
        if status >= 400:
            return Response(
                status, json.dumps({"code": 20000 + status, "message": "refused", "status": status})
            )
        sid = f"SM{len(self.requests):032d}"
        return Response(
            status, json.dumps({"sid": sid, "status": "queued", "body": (data or {}).get("Body")})
        )
