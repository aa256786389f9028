"""The web reads and writes through services only.

``duban.web`` never imports ``models`` (no queries or writes of its own) nor
SQLAlchemy's query side (``select``, ``update``, ``func``…): what a page needs
comes from a use case in ``duban.services``. It may name a session factory's
type (``sqlalchemy.orm.Session``, ``sessionmaker``) and catch SQLAlchemy's
errors (``sqlalchemy.exc``). Read with ``ast``, lazy imports included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "duban" / "web"

# What the web may take from SQLAlchemy: types of the factory it hands on, errors.
ALLOWED = {
    "sqlalchemy.orm": {"Session", "sessionmaker"},
    "sqlalchemy.exc": None,  # any error class
}


def forbidden_imports(name: str, text: str) -> Iterator[str]:
    """``file:line: what`` for each import in ``text`` that reaches models or
    SQLAlchemy's query side."""
    for node in ast.walk(ast.parse(text, filename=name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "models" or (top == "sqlalchemy" and alias.name not in ALLOWED):
                    yield f"{name}:{node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            module = node.module
            top = module.split(".")[0]
            if top == "models":
                yield f"{name}:{node.lineno}: from {module} import …"
            elif top == "sqlalchemy":
                names = {alias.name for alias in node.names}
                allowed = ALLOWED.get(module, set())
                if module not in ALLOWED or (allowed is not None and not names <= allowed):
                    yield f"{name}:{node.lineno}: from {module} import {', '.join(sorted(names))}"


def web_violations() -> list[str]:
    return [
        found
        for path in sorted(WEB.rglob("*.py"))
        for found in forbidden_imports(path.name, path.read_text(encoding="utf-8"))
    ]


def test_the_web_imports_no_models_and_no_queries() -> None:
    assert web_violations() == []


@pytest.mark.parametrize(
    "line",
    [
        "from models import Task",
        "import models",
        "from models.task import Task",
        "from sqlalchemy import select",
        "import sqlalchemy",
        "from sqlalchemy.orm import Session, selectinload",
        "from sqlalchemy.sql import func",
    ],
)
def test_a_query_in_the_web_is_caught(line: str) -> None:
    text = "def handler() -> None:\n    " + line + "\n"  # a lazy import counts too
    assert len(list(forbidden_imports("page.py", text))) == 1


@pytest.mark.parametrize(
    "line",
    [
        "from sqlalchemy.orm import Session, sessionmaker",
        "from sqlalchemy.exc import DataError",
        "from duban.services.reports.choices import filter_choices",
    ],
)
def test_what_the_web_may_import_passes(line: str) -> None:
    assert list(forbidden_imports("page.py", line + "\n")) == []
