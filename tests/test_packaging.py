"""The image and the package agree on what the project is made of."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import setuptools
from packaging.requirements import Requirement
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

from core.domains import INSTALLED_DOMAINS, INSTALLED_INTERFACES

ROOT = Path(__file__).resolve().parent.parent


def test_every_installed_domain_is_packaged_and_copied_into_the_image() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), re.M))
    packages = {"core", *INSTALLED_DOMAINS, *INSTALLED_INTERFACES}
    assert packages == included
    assert packages <= copied


def test_direct_dependencies_are_pinned() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = (
        pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["dev"]
    )
    loose = [r for r in requirements if "==" not in r]
    assert loose == []


def test_the_build_backend_reads_the_project_without_a_warning() -> None:
    """pip prints whatever setuptools warns while it reads pyproject.toml (a licence given as a
    table was deprecated); the setuptools of the dev extra is one the build may choose."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (backend,) = [
        Requirement(r) for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")
    ]
    assert backend.specifier.contains(setuptools.__version__)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert distribution.metadata.license_expression == "AGPL-3.0-or-later"
