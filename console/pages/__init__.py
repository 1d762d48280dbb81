"""The console's pages, one module per desk.

Every page names, as its `ctx` parameter, the very gate (`Annotated[..., Depends(...)]`) of the
API route whose data it shows, and gets that data by calling the API route's function with that
`ctx`: a page can show neither more nor other than the API would answer to the same person, and
refuses with the same 403 or 404. A form posts the API body's fields; `console.forms.parse` turns
them into the API's own body model and the page calls the API route function that acts on it.
"""

from typing import Any

from starlette.routing import Match

from console.pages import (
    admin,
    cases,
    csw_team,
    duty,
    inbox,
    rota,
    session,
    shelters,
    supervision,
)
from console.render import PREFIX
from core.routing import Router


class ConsoleRouter(Router):
    """The console's pages, which answer only paths under /console: any other path is refused
    by one string test before FastAPI tries its pages one by one. So the app can try the console
    first (`console.wiring`): a page no longer waits while every API route is tried (about
    1.5 ms a page), and an API request pays that one test."""

    def matches(self, scope: Any) -> tuple[Match, Any]:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return Match.NONE, {}
        return super().matches(scope)


router = ConsoleRouter()
for module in (session, duty, rota, shelters, supervision, inbox, csw_team, cases, admin):
    router.include_router(module.router)
