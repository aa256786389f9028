"""A single 督办件: work that does not come from a plan (pure rules).

Most supervision work is a leader's written instruction (领导批示件) or a
meeting's decision (会议议定事项), not a plan's measure. A coordinator records
one with its source, document number, the instruction text, the lead and
supporting units, the due date and the leader who gave it. It becomes a
measure of the year's standing plan (``2027年督办件``), so assignment, the
ladder, pages and the ledger treat it like any measure.

:func:`check_item` reads what was typed (strings) and returns the item or
every field at fault, each with a Chinese message naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from duban.domain.directory import normalize_name
from duban.domain.draft_edits import split_names
from duban.domain.parser_config import ParserConfig


class ItemSource(StrEnum):
    INSTRUCTION = "instruction"
    MEETING = "meeting"
    WORK_REPORT = "work_report"
    NPC_SUGGESTION = "npc_suggestion"
    CPPCC_PROPOSAL = "cppcc_proposal"
    OTHER = "other"


SOURCE_LABELS: dict[ItemSource, str] = {
    ItemSource.INSTRUCTION: "领导批示",
    ItemSource.MEETING: "会议纪要",
    ItemSource.WORK_REPORT: "政府工作报告",
    ItemSource.NPC_SUGGESTION: "人大建议",
    ItemSource.CPPCC_PROPOSAL: "政协提案",
    ItemSource.OTHER: "其他",
}

FIELD_LABELS = {
    "source": "来源",
    "doc_ref": "文号",
    "title": "标题",
    "text": "督办事项",
    "lead": "牵头单位",
    "supporting": "配合单位",
    "due": "办理期限",
    "leader": "批示领导",
}
MAX_DOC_REF = 100
MAX_LEADER = 100
MAX_TITLE = 100
MAX_TEXT = 20_000
MAX_NAME = 200
TITLE_LENGTH = 30


def standing_plan_key(year: int) -> str:
    """The key (and title) of the year's standing plan of single items."""
    return f"{year}年督办件"


def item_source_text(source_kind: str | None, doc_ref: str | None,
                     instructed_by: str | None) -> str:
    """``领导批示 · 市府办批〔2027〕12号 · 张市长批示`` (empty for a plan's measure)."""
    if not source_kind:
        return ""
    try:
        label = SOURCE_LABELS[ItemSource(source_kind)]
    except ValueError:
        label = source_kind
    parts = [label, doc_ref or ""]
    if instructed_by:
        parts.append(f"{instructed_by}批示" if source_kind == ItemSource.INSTRUCTION else
                     instructed_by)
    return " · ".join(p for p in parts if p)


def parse_source(raw: str) -> ItemSource | None:
    """A source from its Chinese label or its code (领导批示 / instruction)."""
    value = raw.strip()
    for source, label in SOURCE_LABELS.items():
        if value in (label, source.value):
            return source
    return None


@dataclass
class ItemInput:
    """A 督办件 as typed in the form or on the command line."""

    source: str = ""
    doc_ref: str = ""
    title: str = ""
    text: str = ""
    lead: list[str] = field(default_factory=list)
    supporting: list[str] = field(default_factory=list)
    due: str = ""
    leader: str = ""


@dataclass(frozen=True)
class Item:
    source: ItemSource
    doc_ref: str | None
    title: str
    text: str
    lead: tuple[str, ...]
    supporting: tuple[str, ...]
    due: date
    leader: str | None

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]


@dataclass(frozen=True)
class ItemError:
    field: str
    message: str


def title_from(text: str) -> str:
    """A short title: the text's first sentence, cut at TITLE_LENGTH characters."""
    first = re.split(r"[。;;!?\n]", text.strip(), maxsplit=1)[0].strip()
    return first if len(first) <= TITLE_LENGTH else first[:TITLE_LENGTH] + "…"


def check_item(
    raw: ItemInput, *, known: Callable[[str], bool], today: date
) -> tuple[Item | None, list[ItemError]]:
    """The item, or None and every field at fault (in form order).

    Rules: a source from the list; the instruction text; at least one lead
    unit; every unit known to the directory (names, aliases, 各区 …), none
    vague, none twice; a due date (YYYY-MM-DD) not before ``today``; lengths
    the database keeps.
    """
    errors: list[ItemError] = []

    def fail(key: str, message: str) -> None:
        errors.append(ItemError(key, f"{FIELD_LABELS[key]}:{message}"))

    source = parse_source(raw.source)
    if source is None:
        choices = "、".join(SOURCE_LABELS.values())
        fail("source", f"请选择({choices})" if not raw.source.strip()
             else f"“{raw.source.strip()}”不是可选的来源({choices})")
    doc_ref = raw.doc_ref.strip() or None
    if doc_ref and len(doc_ref) > MAX_DOC_REF:
        fail("doc_ref", f"超过{MAX_DOC_REF}个字符")
    text = raw.text.strip()
    if not text:
        fail("text", "请填写批示或议定事项的内容")
    elif len(text) > MAX_TEXT:
        fail("text", f"超过{MAX_TEXT}个字符")
    title = raw.title.strip() or title_from(text)
    if len(title) > MAX_TITLE:
        fail("title", f"超过{MAX_TITLE}个字符")
    units = _units(raw, known, fail)
    due = _due(raw.due, today, fail)
    leader = raw.leader.strip() or None
    if leader and len(leader) > MAX_LEADER:
        fail("leader", f"超过{MAX_LEADER}个字符")
    if errors or source is None or due is None:
        return None, sorted(errors, key=lambda e: list(FIELD_LABELS).index(e.field))
    return (
        Item(source, doc_ref, title, text, tuple(units["lead"]), tuple(units["supporting"]),
             due, leader),
        [],
    )


Fail = Callable[[str, str], None]  # (field, message)


def _units(raw: ItemInput, known: Callable[[str], bool], fail: Fail) -> dict[str, list[str]]:
    """The lead and supporting units as typed, split; each vague, too long,
    repeated or unknown name is a fault of its field."""
    vague = {normalize_name(n) for n in ParserConfig().vague_names}
    seen: set[str] = set()
    units: dict[str, list[str]] = {}
    for key, typed in (("lead", raw.lead), ("supporting", raw.supporting)):
        names: list[str] = []
        for name in (n for entry in typed for n in split_names(entry)):
            normal = normalize_name(name)
            if normal in vague:
                fail(key, f"“{name}”未指明具体单位,请填写具体单位名称")
            elif len(name) > MAX_NAME:
                fail(key, f"“{name[:20]}…”超过{MAX_NAME}个字符")
            elif normal in seen:
                fail(key, f"“{name}”重复列出")
            elif not known(name):
                fail(key, f"“{name}”不在机构目录中(请用目录中的单位名称或别名)")
            else:
                seen.add(normal)
                names.append(name)
        units[key] = names
    if not raw.lead or not any(split_names(e) for e in raw.lead):
        fail("lead", "请至少填写一个牵头单位")
    return units


def _due(typed: str, today: date, fail: Fail) -> date | None:
    """The due date typed (YYYY-MM-DD), not before ``today``; else None and a fault."""
    if not typed.strip():
        fail("due", "请填写办理期限(YYYY-MM-DD)")
        return None
    try:
        due = date.fromisoformat(typed.strip())
    except ValueError:
        fail("due", f"“{typed.strip()}”不是有效日期(应为 YYYY-MM-DD)")
        return None
    if due < today:
        fail("due", f"{due.isoformat()} 早于今天({today.isoformat()})")
    return due
