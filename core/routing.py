"""The routers every domain builds its HTTP surface with: FastAPI's, which refuse a path none of
their routes could answer with one regular expression, before trying their routes one by one.

FastAPI (0.163) keeps an included router as a branch that tries each of its routes in turn, and
tries the branch that answers twice (once to find it, once to hand it the request): a request to
a route of the last domain included went through some 150 route matches, half the CPU of a short
read. With every router refusing at once the paths none of its routes take, a request is tried
against one expression a branch and the routes of the branch that has it.

A router's expression is the union of its routes' own (named groups dropped, as two routes may
name a parameter alike), as its inclusion sees them (with any prefix it was included under), and
is rebuilt when its routes change. `tests/core/test_routing.py` checks that every route of the
app is still reached by the same paths, and that a path no route takes is still a 404.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.routing import _get_scope_included_router, _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def _route_pattern(context: Any) -> str | None:
    """A route's path expression as its inclusion sees it (None when it has none)."""
    pattern = getattr(context, "path_regex", None)
    if pattern is None:
        pattern = getattr(getattr(context, "starlette_route", None), "path_regex", None)
    return None if pattern is None else str(pattern.pattern)


def union_of(inclusion: _IncludedRouter) -> re.Pattern[str] | None:
    """One expression matching every path some route of this inclusion answers (None when a
    route has no path expression: then nothing is refused)."""
    patterns: list[str] = []
    for context in inclusion.effective_route_contexts():
        pattern = _route_pattern(context)
        if pattern is None:
            return None
        patterns.append(f"(?:{_NAMED_GROUP.sub('(?:', pattern)})")
    return re.compile("|".join(patterns)) if patterns else re.compile(r"(?!)")


class Router(APIRouter):
    """An `APIRouter` that refuses, with one expression, the paths none of its routes answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # inclusion's id -> (the inclusion, its routes' version, the union; None: none)
        self._unions: dict[int, tuple[_IncludedRouter, Any, re.Pattern[str] | None]] = {}

    def _union(self, inclusion: _IncludedRouter) -> re.Pattern[str] | None:
        version = self._get_routes_version()
        known = self._unions.get(id(inclusion))
        if known is not None and known[0] is inclusion and known[1] == version:
            return known[2]
        union = union_of(inclusion)
        self._unions[id(inclusion)] = (inclusion, version, union)
        return union

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        inclusion = _get_scope_included_router(scope)
        if isinstance(inclusion, _IncludedRouter) and inclusion.original_router is self:
            union = self._union(inclusion)
            if union is not None and union.match(get_route_path(scope)) is None:
                return Match.NONE, {}
        return super().matches(scope)
