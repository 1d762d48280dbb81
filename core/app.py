"""The ASGI application: settings, database, clock, middleware, error handlers and routers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from core import __doc__ as core_doc
from core import domains
from core.access import undeclared_routes
from core.clock import Clock, SystemClock
from core.config import Settings, get_settings
from core.crypto import cipher_from_settings
from core.db import create_db_engine, head_revisions, read_engine, unit_of_work
from core.errors import install_error_handlers
from core.logs import RequestContextMiddleware, configure_logging
from core.passwords import make_hasher
from core.router import router as core_router
from core.second_factor_router import admin_router as second_factor_admin_router
from core.second_factor_router import router as second_factor_router
from core.twilio import make_validator

OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"
DOCS_OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# Swagger UI's script, style sheet and icon, as the fastapi-offline package ships them.
DOCS_ASSETS_URL = "/docs/assets"
DOCS_ASSETS_PACKAGE = ("fastapi_offline", "static")
DOCS_ROUTES = frozenset(
    {DOCS_URL, DOCS_OAUTH2_REDIRECT_URL, DOCS_ASSETS_URL, "/redoc", OPENAPI_URL}
)


class UndeclaredRouteError(RuntimeError):
    """A route has no access policy; the service refuses to start."""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the application; refuses to build one with a route that declares no policy."""
    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or create_db_engine(settings)
    docs = settings.is_development

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = _start_jobs(app) if settings.background_jobs else None
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            for hook in domains.hooks("on_shutdown"):
                hook(app)
            if owns_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="Sigurna",
        description=core_doc,
        version="0.1.0",
        docs_url=None,  # served by _serve_docs, from this server rather than a CDN
        redoc_url=None,
        openapi_url=OPENAPI_URL if docs else None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    # How a request or a webhook opens its transaction (tests swap in a rolled-back one).
    app.state.unit_of_work = partial(unit_of_work, engine)
    # A read request's, on PostgreSQL (`core.db.read_engine`); only while the unit of work
    # above is the app's own (`core.deps.get_session`): a swapped one takes every request.
    app.state.own_unit_of_work = app.state.unit_of_work
    reader = read_engine(engine)
    app.state.read_unit_of_work = partial(unit_of_work, reader) if reader else None
    app.state.clock = clock or SystemClock()
    app.state.hasher = make_hasher(settings)
    app.state.head_revisions = head_revisions(settings)
    app.state.cipher = cipher_from_settings(settings)
    app.state.twilio_validator = make_validator(settings)
    app.state.non_api_routes = DOCS_ROUTES if docs else frozenset()
    if docs:
        _serve_docs(app)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    # Domain routes first: the voice webhook is matched before the rest of the API.
    for router in domains.routers():
        app.include_router(router)
    app.include_router(core_router)
    app.include_router(second_factor_router)
    app.include_router(second_factor_admin_router)
    domains.wire()
    for configure in domains.hooks("configure"):
        configure(app)
    problems = undeclared_routes(app)
    if problems:
        raise UndeclaredRouteError(
            "routes without exactly one access policy: " + "; ".join(problems)
        )
    return app


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI at /docs with every asset served by the app, so the page works offline.

    As FastAPI's own /docs, but with the assets of a pinned package mounted at DOCS_ASSETS_URL
    instead of a CDN's; like FastAPI's, these are plain routes, exempt through DOCS_ROUTES.
    """

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + DOCS_OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.mount(DOCS_ASSETS_URL, StaticFiles(packages=[DOCS_ASSETS_PACKAGE]), name="docs-assets")
    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(DOCS_OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)


JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


def add_shared_jobs(app: FastAPI, scheduler: BaseScheduler) -> None:
    """The jobs one process of a deployment must run (each claims its rows, so two may)."""
    for schedule in domains.job_schedulers("schedule"):
        schedule(app, scheduler)


def _start_jobs(app: FastAPI) -> BackgroundScheduler:
    """Periodic work of the installed domains in this web process (each job is idempotent)."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
    for schedule in domains.job_schedulers("schedule_in_process"):
        schedule(app, scheduler)
    if app.state.settings.embedded_scheduler:
        add_shared_jobs(app, scheduler)
    scheduler.start()
    return scheduler


def build_app() -> FastAPI:
    """uvicorn's factory: `uvicorn --factory core.app:build_app`."""
    settings = get_settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    app = create_app(settings)
    # What start-up allocated lives as long as the process: keep the collector off it, which
    # shortens the pauses that make a voice webhook's slowest answers slow.
    gc.collect()
    gc.freeze()
    return app
