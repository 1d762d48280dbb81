"""Login cost (argon2id) and the overhead of an authenticated request, on SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from bench.stats import report, time_calls
from bench.support import bench_settings, fresh_postgres
from core.app import create_app
from core.audit import Actor
from core.clock import SystemClock
from core.db import create_db_engine, unit_of_work, upgrade
from core.models import OrganisationCreate, OrganisationKind, Role, UserCreate
from core.passwords import make_hasher
from core.users import create_organisation, create_user

PASSWORD = "bench-password-lantern-93"


def _one(label: str, url: str) -> None:
    settings = bench_settings(url)
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    hasher = make_hasher(settings)
    with unit_of_work(engine) as session:
        organisation = create_organisation(
            session,
            now=SystemClock().now(),
            actor=Actor.system("bench"),
            data=OrganisationCreate(name="Bench NGO", kind=OrganisationKind.NGO, country_code="ME"),
        )
        create_user(
            session,
            now=SystemClock().now(),
            settings=settings,
            hasher=hasher,
            organisation=organisation,
            actor=Actor.system("bench"),
            must_change_password=False,
            data=UserCreate(
                email="runner@example.org",
                display_name="Load Runner",
                roles=[Role.ADMIN],
                password=PASSWORD,
            ),
        )
    app = create_app(settings, engine=engine)
    with TestClient(app, base_url="https://testserver") as client:
        login = time_calls(
            lambda: client.post(
                "/auth/login", json={"email": "runner@example.org", "password": PASSWORD}
            ),
            20,
        )
        print(report(f"{label}: POST /auth/login (argon2id + session)", login))
        me = time_calls(lambda: client.get("/auth/me"), 300)
        print(report(f"{label}: GET /auth/me (session lookup)", me))
        health = time_calls(lambda: client.get("/healthz"), 300)
        print(report(f"{label}: GET /healthz (no database)", health))
    engine.dispose()


def run() -> None:
    settings = bench_settings("sqlite:///:memory:")
    hasher = make_hasher(settings)
    hashes = time_calls(lambda: hasher.hash(PASSWORD), 20)
    print(report("argon2id hash (m=19 MiB, t=2, p=1)", hashes))
    with tempfile.TemporaryDirectory() as folder:
        _one("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}")
    pg = fresh_postgres("sigurna_bench_auth")
    if pg is None:
        print("postgresql: no server answers; set SIGURNA_BENCH_DATABASE_URL to include it")
    else:
        _one("postgresql", pg)
