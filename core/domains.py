"""The domain packages this deployment serves.

`core` never imports a domain package by name in code: domains depend on core, not the reverse.
Each package listed here follows the house layout, so its tables are in `<package>.models` and
its routes in `<package>.router.router`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer
from fastapi import APIRouter, FastAPI

INSTALLED_DOMAINS: tuple[str, ...] = ("notifications", "hotline", "referrals", "shelters")


def import_models() -> None:
    """Import every table definition, so that `SQLModel.metadata` knows the whole schema."""
    importlib.import_module("core.models")
    importlib.import_module("core.audit")
    for package in INSTALLED_DOMAINS:
        importlib.import_module(f"{package}.models")


def hooks(name: str) -> list[Callable[[FastAPI], None]]:
    """Each installed domain's `configure`, `on_startup` or `on_shutdown` (in `<pkg>.router`)."""
    found: list[Callable[[FastAPI], None]] = []
    for package in INSTALLED_DOMAINS:
        hook = getattr(importlib.import_module(f"{package}.router"), name, None)
        if hook is not None:
            found.append(hook)
    return found


def job_schedulers(name: str = "schedule") -> list[Callable[[FastAPI, Any], None]]:
    """Each installed domain's periodic jobs: `schedule(app, scheduler)` adds the shared ones
    (sweeps, delivery, retention: the web process or `sigurna scheduler`), and
    `schedule_in_process` those every web process needs for itself (the roster cache)."""
    found: list[Callable[[FastAPI, Any], None]] = []
    for package in INSTALLED_DOMAINS:
        hook = getattr(importlib.import_module(f"{package}.router"), name, None)
        if hook is not None:
            found.append(hook)
    return found


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
