"""How the console plugs into the application: its pages, its assets, its error pages and the
headers of every answer under /console."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from console import errors, security
from console.pages import router
from console.render import PREFIX

STATIC_URL = PREFIX + "/static"
STATIC_DIR = Path(__file__).parent / "static"


def configure(app: FastAPI) -> None:
    app.include_router(router)
    # The style sheet, the script and the vendored packages (htmx from npm, `make install`).
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR, check_dir=False), name="console-static")
    # Both tried before the API's routes: they refuse any path outside /console at once (the
    # mount by its prefix, the pages by `ConsoleRouter.matches`), so a page is not matched
    # against every API route first, and the API's routes keep their order after them.
    routes = app.router.routes
    pages, mount = routes[-2:]  # as just added
    del routes[-2:]
    routes[:0] = [mount, pages]
    app.state.non_api_routes = app.state.non_api_routes | {STATIC_URL}
    app.add_middleware(security.HeadersMiddleware)
    errors.install(app)
