"""One table of words per vocabulary (duban/domain/labels.py), no copies.

A dict literal in product code whose keys are codes of one of the label
tables (levels, roles, comparators, statuses, audiences) and whose values are
all strings is a second copy of that table: it fails here, naming the file
and line, so the next label lands in duban/domain/labels.py instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from duban.domain import labels

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("duban", "flows", "notifications", "models")
LABELS_FILE = ROOT / "duban" / "domain" / "labels.py"

# Every table of labels.py: name -> its keys.
TABLES: dict[str, frozenset[object]] = {
    name: frozenset(value)
    for name, value in vars(labels).items()
    if name.isupper() and isinstance(value, dict)
}


def _key(node: ast.expr | None) -> object:
    """A dict key as a code: a literal, or an enum member ``Role.LEAD`` read as
    its lower-case name ("lead"); None for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute) and node.attr.isupper():
        return node.attr.lower()
    return None


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _is_words(node: ast.expr) -> bool:
    """Text a user reads (Chinese), not another code such as a step name."""
    value = node.value if isinstance(node, ast.Constant) else None
    return isinstance(value, str) and not value.isascii()


def _pairs(node: ast.AST) -> tuple[list[ast.expr | None], list[ast.expr]] | None:
    """A literal table's keys and values: a dict, or a list/tuple of (code, words)
    pairs (choices for a form); None for anything else."""
    if isinstance(node, ast.Dict):
        return list(node.keys), list(node.values)
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        rows = [e for e in node.elts if isinstance(e, ast.Tuple) and len(e.elts) == 2]
        if len(rows) == len(node.elts):
            return [r.elts[0] for r in rows], [r.elts[1] for r in rows]
    return None


def copies_in(source: str) -> list[tuple[int, str]]:
    """(line, table name) of every literal table in ``source`` that copies a label table."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        table_like = _pairs(node)
        if table_like is None or len(table_like[0]) < 2:
            continue
        keys = {_key(k) for k in table_like[0]}
        values = table_like[1]
        if None in keys or not all(_is_text(v) for v in values):
            continue
        if not any(_is_words(v) for v in values):
            continue
        for name, table in TABLES.items():
            if keys <= table:
                found.append((getattr(node, "lineno", 0), name))
                break
    return found


def product_files() -> list[Path]:
    return sorted(
        path
        for top in PRODUCT
        for path in (ROOT / top).rglob("*.py")
        if path != LABELS_FILE and ".venv" not in path.parts
    )


def test_no_product_module_keeps_its_own_copy_of_a_label_table() -> None:
    copies = [
        f"{path.relative_to(ROOT)}:{line} copies {name}"
        for path in product_files()
        for line, name in copies_in(path.read_text(encoding="utf-8"))
    ]
    assert copies == [], "use duban.domain.labels instead:\n" + "\n".join(copies)


@pytest.mark.parametrize(
    "source",
    [
        'LEVEL_LABELS = {0: "提醒", 1: "催办", 2: "督办(黄)", 3: "督办(红)"}',
        'sign = {">=": "≥", "<=": "≤", "=": "="}.get(c, "")',
        'ROLE_LABELS = {Role.LEAD: "牵头单位", Role.SUPPORTING: "配合单位"}',
        'STATUS = {"pending": "待发送", "sent": "已发送", "dead": "失败"}',
        'choices = [("sent", "已送达"), ("pending", "待发送"), ("failed", "发送失败")]',
    ],
    ids=["levels", "inline-comparators", "enum-keys", "statuses", "choice-pairs"],
)
def test_a_copied_table_is_found(source: str) -> None:
    assert copies_in(source)


@pytest.mark.parametrize(
    "source",
    [
        'FIELDS = {"lead": "牵头单位", "supporting": "配合单位", "text": "正文"}',
        'FILTERS = {"sent": ("sent",), "failed": ("failed", "dead")}',
        "COUNTS = {1: 0, 2: 0, 3: 0}",
        'STEPS = {1: "urge", 2: "escalate_yellow", 3: "escalate_red"}',
        'COLUMNS = [("approved", "已办结"), ("overdue", "逾期")]',
    ],
    ids=["other-keys-too", "values-not-words", "numbers-not-words", "codes-not-words",
         "pairs-of-other-codes"],
)
def test_a_table_of_something_else_is_not_a_copy(source: str) -> None:
    assert not copies_in(source)
