"""Load generator, run as its own process: `python -m bench.loadgen PORT TARGET SECONDS N ...`.

Each of N workers keeps one HTTP/1.1 keep-alive connection and sends requests back to back.
A small raw client: general-purpose Python HTTP clients cost more CPU per request than the
server under test, which would measure the client. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench.stats import percentile


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def main(
    port: int, target: str, seconds: float, concurrency: int, base: str, token: str, hotline: str
) -> dict[str, object]:
    validator = RequestValidator(token)
    latencies: list[float] = []
    errors = 0
    dials = 0
    deadline = time.monotonic() + seconds

    def build() -> bytes:
        if target == "healthz":
            return b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
        params = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": "+61491570156",
            "To": hotline,
            "CallStatus": "ringing",
        }
        body = urlencode(params).encode()
        signature = validator.compute_signature(f"{base}/hotline/voice", params)
        return (
            b"POST /hotline/voice HTTP/1.1\r\nHost: bench\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    async def worker() -> None:
        nonlocal errors, dials
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                request = build()
                started = time.perf_counter()
                try:
                    status, body = await asyncio.wait_for(_exchange(reader, writer, request), 10)
                except (OSError, asyncio.IncompleteReadError, TimeoutError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors += 1
                if target != "healthz" and b"<Dial" in body and b"<Number" in body:
                    dials += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "errors": errors,
        "dials": dials if target != "healthz" else "-",
    }


if __name__ == "__main__":
    port, target, seconds, concurrency, base, token, hotline = sys.argv[1:8]
    result = asyncio.run(
        main(int(port), target, float(seconds), int(concurrency), base, token, hotline)
    )
    print(json.dumps(result))
