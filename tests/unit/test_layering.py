"""The house's layering, read from the source with ``ast`` (every import, lazy
ones inside functions included):

- ``duban.domain`` imports the standard library only;
- ``models`` and ``notifications`` never import the use cases or anything above;
- ``duban.services`` never imports web, cli, flows, the composition root
  (``duban.wiring``) or operations (``duban.ops``), nor Prefect, Apprise or the
  sending half of ``notifications`` (it checks addresses through
  ``notifications.contacts``);
- inside ``duban.services`` a room imports only its own room, the rooms below
  it (:data:`ROOMS`, lowest first) and the floor (:data:`FLOOR`);
- ``flows`` never imports ``duban.ops`` (fault hooks are handed in).

:data:`EXCEPTIONS` lists the imports that still break a rule, each with the
helper who removes it; the list only shrinks.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("duban", "models", "notifications", "flows")

# Below every room: modules that need only the domain and the models.
FLOOR = frozenset(
    {
        "duban.services",
        "duban.services.serialize",
        "duban.services.paging",
        "duban.services.task_events",
        "duban.services.notices",
    }
)
# The rooms of duban.services, lowest first: each may import the ones before it.
ROOMS: tuple[str, ...] = (
    "calendar",
    "ladder",  # policy versions, the sweep, a task's outlook: over the models alone
    "accounts",
    "plans",
    "tasks",
    "outbox",
    "desk",  # the coordinators' fixes: queue notices, move deliveries
    "reports",
    "rounds",  # the daily round and the weekly digest: ladder, outbox and reports together
)
# Third-party packages a use case must not import (and what it uses instead).
SERVICES_MUST_NOT_IMPORT = (
    "duban.web",
    "duban.cli",
    "duban.wiring",
    "duban.ops",
    "flows",
    "prefect",  # flows wrap services, not the other way round
    "apprise",  # notifications.contacts checks an address
    "notifications.send",
    "notifications.mail",
    "notifications.wecom",
    "notifications.wecom_base",
    "fastapi",
    "starlette",
)
ABOVE_MODELS = ("duban.services", "duban.web", "duban.cli", "duban.wiring", "duban.ops", "flows")

# (importer, imported) pairs that break a rule today. Each names who removes it.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    path: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_sources(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Every product module: name → (path relative to ``root``, source)."""
    sources: dict[str, tuple[str, str]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = str(path.relative_to(root))
            sources[module_name(path, root)] = (rel, path.read_text(encoding="utf-8"))
    return sources


def imports_of(sources: Mapping[str, tuple[str, str]]) -> Iterator[Import]:
    """Every import in ``sources``, relative ones resolved; ``from pkg import mod``
    counts as an import of ``pkg.mod`` when that is a module of ``sources``."""
    for module, (path, text) in sources.items():
        for imp in _imports(module, path, text):
            sub = f"{imp.imported}.{imp.name}" if imp.name else ""
            yield Import(module, sub if sub in sources else imp.imported, path, imp.line)


@dataclass(frozen=True)
class _Raw:
    imported: str
    name: str  # for ``from imported import name``
    line: int


@lru_cache(maxsize=4096)
def _imports(module: str, path: str, text: str) -> tuple[_Raw, ...]:
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: list[_Raw] = []
    for node in ast.walk(ast.parse(text, filename=path)):
        if isinstance(node, ast.Import):
            found.extend(_Raw(alias.name, "", node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            found.extend(_Raw(base, alias.name, node.lineno) for alias in node.names)
    return tuple(found)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def room_of(module: str) -> int | None:
    """The index of ``module``'s room in :data:`ROOMS` (-1: the floor), None outside services."""
    if module in FLOOR:
        return -1
    if not _within(module, "duban.services"):
        return None
    name = module.split(".")[2]
    return ROOMS.index(name) if name in ROOMS else len(ROOMS)


def broken_rule(imp: Import) -> str | None:
    """The rule ``imp`` breaks, or None."""
    source, target = imp.importer, imp.imported
    if _within(source, "duban.domain"):
        top = target.split(".")[0]
        if top not in sys.stdlib_module_names and not _within(target, "duban.domain"):
            return "the domain imports the standard library only"
    if _within(source, "models") or _within(source, "notifications"):
        if any(_within(target, above) for above in ABOVE_MODELS):
            return "models and notifications never import use cases or what is above them"
    if _within(source, "duban.services"):
        if any(_within(target, banned) for banned in SERVICES_MUST_NOT_IMPORT):
            return "services never import web, cli, flows, wiring, ops, Prefect or Apprise"
        mine, theirs = room_of(source), room_of(target)
        if mine == len(ROOMS):
            return f"{source} is in no room (add its room to ROOMS)"
        if mine is not None and theirs is not None and theirs > mine:
            return "a room imports only the rooms below it (ROOMS) and the floor"
    if _within(source, "flows") and _within(target, "duban.ops"):
        return "flows never import duban.ops"
    return None


def violations(sources: Mapping[str, tuple[str, str]]) -> list[str]:
    """Each import of ``sources`` that breaks a rule and is not an :data:`EXCEPTIONS` entry."""
    found = []
    for imp in imports_of(sources):
        rule = broken_rule(imp)
        if rule and (imp.importer, imp.imported) not in EXCEPTIONS:
            found.append(f"{imp.path}:{imp.line}: {imp.importer} -> {imp.imported}: {rule}")
    return sorted(set(found))


def test_the_product_keeps_its_layers() -> None:
    assert violations(product_sources()) == []


def test_every_service_module_is_in_a_room_or_the_floor() -> None:
    homeless = [m for m in product_sources() if room_of(m) == len(ROOMS)]
    assert homeless == []


def test_each_exception_names_an_import_that_exists() -> None:
    # A resolved exception is a line to delete, not a licence to keep; it is
    # reported rather than failed, so the landing that resolves it stays green.
    existing = {(imp.importer, imp.imported) for imp in imports_of(product_sources())}
    resolved = sorted(set(EXCEPTIONS) - existing)
    if resolved:
        pytest.skip(f"delete these resolved EXCEPTIONS entries: {resolved}")


def _with_line(module: str, line: str) -> dict[str, tuple[str, str]]:
    sources = product_sources()
    path, text = sources[module]
    sources[module] = (path, text + "\n\ndef _added() -> None:\n    " + line + "\n")
    return sources


@pytest.mark.parametrize(
    ("module", "line", "rule"),
    [
        ("duban.domain.workdays", "import sqlalchemy", "standard library only"),
        ("duban.domain.escalation", "from models import Task", "standard library only"),
        ("models", "from duban.services.tasks import queries", "never import use cases"),
        ("notifications.render", "import duban.web.state", "never import use cases"),
        ("duban.services.calendar.data", "from duban.services.reports import ledger", "below"),
        ("duban.services.plans.catalog", "from duban.services.tasks.queries import Page", "below"),
        ("duban.services.ladder.sweep", "from duban.services.tasks import queries", "below"),
        ("duban.services.tasks.lifecycle", "from duban.web import state", "never import web"),
        ("duban.services.accounts.org", "from notifications.send import Sender", "Apprise"),
        ("duban.services.accounts.staff", "from duban.wiring import AppContext", "wiring"),
        ("duban.services.plans.importer", "import prefect", "Prefect"),
        ("flows.digest", "from duban.ops import cluster", "flows never import duban.ops"),
    ],
    ids=[
        "domain-sqlalchemy",
        "domain-models",
        "models-services",
        "notifications-web",
        "calendar-up-to-reports",
        "plans-up-to-tasks",
        "ladder-up-to-tasks",
        "services-web",
        "services-apprise-sender",
        "services-wiring",
        "services-prefect",
        "flows-ops",
    ],
)
def test_a_forbidden_import_is_caught(module: str, line: str, rule: str) -> None:
    found = violations(_with_line(module, line))
    assert len(found) == 1, found
    assert module in found[0] and rule in found[0]


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("duban.services.reports.ledger", "from duban.services.calendar import data"),
        ("duban.services.tasks.lifecycle", "from duban.services.ladder.core import LEASE"),
        ("duban.services.plans.catalog", "from duban.services.paging import Page"),
        ("duban.services.accounts.org", "from notifications.contacts import privacy"),
        ("duban.domain.workdays", "import zoneinfo"),
        ("flows.digest", "from duban.services.reports import digest"),
    ],
    ids=[
        "down-a-room",
        "down-to-the-ladder",
        "to-the-floor",
        "contacts-check",
        "domain-stdlib",
        "flows-services",
    ],
)
def test_an_allowed_import_passes(module: str, line: str) -> None:
    assert violations(_with_line(module, line)) == []


def test_a_new_service_module_outside_the_rooms_is_caught() -> None:
    sources = product_sources()
    sources["duban.services.extras.thing"] = ("duban/services/extras/thing.py", "import os\n")
    found = violations(sources)
    assert len(found) == 1 and "in no room" in found[0], found
