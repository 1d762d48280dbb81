"""The image and the package agree on what the project is made of."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from core.domains import INSTALLED_DOMAINS

ROOT = Path(__file__).resolve().parent.parent


def test_every_installed_domain_is_packaged_and_copied_into_the_image() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.M))
    packages = {"core", *INSTALLED_DOMAINS}
    assert packages == included
    assert packages <= copied


def test_direct_dependencies_are_pinned() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = (
        pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["dev"]
    )
    loose = [r for r in requirements if "==" not in r]
    assert loose == []
