"""The domain packages this deployment serves.

`core` never imports a domain package by name in code: domains depend on core, not the reverse.
Each package listed here follows the house layout (CONVENTIONS.md): its tables are in
`<package>.models`, its routes in `<package>.router.router`, its periodic jobs in `<package>.jobs`,
and what it plugs into the application (start-up, shut-down, events) in `<package>.wiring`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer
from fastapi import APIRouter, FastAPI

INSTALLED_DOMAINS: tuple[str, ...] = (
    "notifications",
    "hotline",
    "referrals",
    "shelters",
    "safety_plans",
)
# Interfaces over every domain (the staff console): they may use any domain's routes, gates and
# services, and no domain uses them. Each plugs itself in with `<pkg>.wiring.configure(app)`,
# after the domains, so its routes pass the same start-up check of their policies.
INSTALLED_INTERFACES: tuple[str, ...] = ("console",)


def import_models() -> None:
    """Import every table definition, so that `SQLModel.metadata` knows the whole schema."""
    importlib.import_module("core.models")
    importlib.import_module("core.audit")
    for package in INSTALLED_DOMAINS:
        importlib.import_module(f"{package}.models")


def _module(package: str, name: str) -> Any | None:
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.{name}":
            raise  # the module exists and fails to import: not ours to hide
        return None


def hooks(name: str) -> list[Callable[[FastAPI], None]]:
    """Each installed domain's (then interface's) `configure` or `on_shutdown`, in
    `<pkg>.wiring`."""
    found: list[Callable[[FastAPI], None]] = []
    for package in (*INSTALLED_DOMAINS, *INSTALLED_INTERFACES):
        hook = getattr(_module(package, "wiring"), name, None)
        if hook is not None:
            found.append(hook)
    return found


def job_schedulers(name: str = "schedule") -> list[Callable[[FastAPI, Any], None]]:
    """Each installed domain's periodic jobs, in `<pkg>.jobs`: `schedule(app, scheduler)` adds
    the shared ones (sweeps, delivery, retention: the web process or `sigurna scheduler`), and
    `schedule_in_process` those every web process needs for itself (the roster cache)."""
    found: list[Callable[[FastAPI, Any], None]] = []
    for package in INSTALLED_DOMAINS:
        hook = getattr(_module(package, "jobs"), name, None)
        if hook is not None:
            found.append(hook)
    return found


def wire() -> None:
    """Each installed domain subscribes to the events and answers the questions it takes part
    in (`<pkg>.wiring.wire()`, see core.events); idempotent, so every entry point may call it."""
    from core import sealed, second_factor

    sealed.register(sealed.pair("user_second_factor", "secret", second_factor.SECRET_CONTEXT))
    for package in INSTALLED_DOMAINS:
        wire_domain = getattr(_module(package, "wiring"), "wire", None)
        if wire_domain is not None:
            wire_domain()


def demo_loaders() -> list[Callable[..., list[str]]]:
    """Each installed domain's `<pkg>.demo.load(session, now=...)`, if it has demo data."""
    found: list[Callable[..., list[str]]] = []
    for package in INSTALLED_DOMAINS:
        try:
            module = importlib.import_module(f"{package}.demo")
        except ModuleNotFoundError:
            continue
        found.append(module.load)
    return found


def cli_apps() -> list[tuple[str, typer.Typer]]:
    """Each installed domain's command group (`<pkg>.cli.app`), named after the package."""
    found: list[tuple[str, typer.Typer]] = []
    for package in INSTALLED_DOMAINS:
        try:
            module = importlib.import_module(f"{package}.cli")
        except ModuleNotFoundError:
            continue
        found.append((package, module.app))
    return found


def routers() -> list[APIRouter]:
    """The routers of the installed domains."""
    found: list[APIRouter] = []
    for package in INSTALLED_DOMAINS:
        module = importlib.import_module(f"{package}.router")
        found.append(module.router)
    return found
