"""The routers every domain builds its HTTP surface with: FastAPI's, which refuse a path none of
their routes could answer with one regular expression, before trying their routes one by one.

FastAPI (0.163) keeps an included router as a branch that tries each of its routes in turn, and
tries the branch that answers twice (once to find it, once to hand it the request): a request to
a route of the last domain included went through some 150 route matches, half the CPU of a short
read. With every router refusing at once the paths none of its routes take, a request is tried
against one expression a branch and the routes of the branch that has it.

A router's expression is the union of its routes' own (named groups dropped, as two routes may
name a parameter alike), as its inclusion sees them (with any prefix it was included under), and
is rebuilt when a route is added to any `Router`. `tests/core/test_routing.py` checks that every
route of the app is still reached by the same paths, and that a path no route takes is a 404.
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
_KEPT = "_sigurna_union"  # on an inclusion: (the generation it was built in, its union)


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

    # Bumped whenever a route is added to any `Router` (FastAPI marks every addition): a union
    # built before is then built again. One number, not FastAPI's version of a router, which
    # walks every router under it and would cost each level of a request a walk of its own.
    generation = 0

    def _mark_routes_changed(self) -> None:
        super()._mark_routes_changed()
        Router.generation += 1

    @staticmethod
    def _union(inclusion: _IncludedRouter) -> re.Pattern[str] | None:
        """The inclusion's union, kept on the inclusion itself (it lives as long as its app)."""
        known: tuple[int, re.Pattern[str] | None] | None = getattr(inclusion, _KEPT, None)
        if known is not None and known[0] == Router.generation:
            return known[1]
        generation = Router.generation
        union = union_of(inclusion)
        setattr(inclusion, _KEPT, (generation, union))
        return union

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        inclusion = _get_scope_included_router(scope)
        if isinstance(inclusion, _IncludedRouter) and inclusion.original_router is self:
            union = self._union(inclusion)
            if union is not None and union.match(get_route_path(scope)) is None:
                return Match.NONE, {}
        return super().matches(scope)
