"""The house's shape, checked: domains react to each other through core's events, not imports.

Every import in every module is read from its source (those inside functions included), so a
late import cannot hide a dependency. Allowed across domains: the notifications outbox (every
domain may queue a message) and demo-data loaders (which set up a whole demo world).
"""

from __future__ import annotations

import ast
from pathlib import Path

from core.domains import INSTALLED_DOMAINS, INSTALLED_INTERFACES

ROOT = Path(__file__).resolve().parents[1]
SHARED = {"notifications"}
LAYERS = ("service", "deps", "router", "wiring", "jobs")
MAX_MODULE_LINES = 600


def _imports(path: Path) -> list[str]:
    """Every module a file imports, as dotted names (`from a import b` gives a.b and a)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_core_imports_no_domain() -> None:
    offending = [
        (str(path.relative_to(ROOT)), name)
        for path in _modules("core")
        for name in _imports(path)
        if name.split(".")[0] in INSTALLED_DOMAINS
    ]
    assert offending == []


def test_no_domain_and_not_core_uses_an_interface() -> None:
    """The console (an interface) may use every domain; nothing uses the console."""
    offending = [
        (str(path.relative_to(ROOT)), name)
        for package in ("core", *INSTALLED_DOMAINS)
        for path in _modules(package)
        for name in _imports(path)
        if name.split(".")[0] in INSTALLED_INTERFACES
    ]
    assert offending == []


def test_no_domain_reaches_into_another_domains_service_or_deps() -> None:
    offending = []
    for package in INSTALLED_DOMAINS:
        for path in _modules(package):
            if path.name == "demo.py":
                continue
            for name in _imports(path):
                parts = name.split(".")
                other = parts[0]
                if other == package or other not in INSTALLED_DOMAINS or other in SHARED:
                    continue
                if len(parts) > 1 and parts[1] in LAYERS:
                    offending.append((str(path.relative_to(ROOT)), name))
    assert offending == []


def test_every_domain_has_the_house_files() -> None:
    missing = [
        f"{package}/{name}"
        for package in INSTALLED_DOMAINS
        for name in ("models", "service", "router", "deps", "errors", "jobs", "wiring")
        if not (ROOT / package / f"{name}.py").exists() and not (ROOT / package / name).is_dir()
    ]
    assert missing == []


def test_no_application_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for package in ("core", *INSTALLED_DOMAINS, *INSTALLED_INTERFACES)
        for path in _modules(package)
        if (lines := len(path.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


MAX_FUNCTION_LINES = 80


def test_no_function_is_over_80_lines_without_a_reason_at_its_top() -> None:
    """A longer function says why in its docstring, in a sentence starting "Long because"."""
    long = []
    for package in ("core", *INSTALLED_DOMAINS, *INSTALLED_INTERFACES):
        for path in _modules(package):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and "Long because" not in (
                    ast.get_docstring(node) or ""
                ):
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []
