"""Printable supervision documents as data (pure, stdlib only).

- :class:`DocumentKind`: 督办通知单 (``notice``), 黄色督办单 (``yellow``), 红色督办单
  (``red``) about one task or one department's tasks, and the periodic 督查通报
  (``bulletin``). The three 督办单 share one number series, the 通报 another.
- :class:`DocumentSettings`: the office's issuer name, default signer and 文号
  patterns, from the organisation file's ``documents`` block, e.g.
  ``notice_number: "珠督〔{year}〕{seq}号"`` (``{seq:03d}`` pads).
- :class:`NoticeContent` and :class:`BulletinContent`: what is printed, kept
  with the issued document so it can be printed again, identical, in either
  format (``to_data``/``from_data`` round-trip through JSON).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from duban.domain.errors import DubanError


class DocumentKind(StrEnum):
    NOTICE = "notice"  # 督办通知单
    YELLOW = "yellow"  # 黄色督办单
    RED = "red"  # 红色督办单(约谈)
    BULLETIN = "bulletin"  # 督查通报

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def series(self) -> str:
        """The number series: the 督办单 share one, the 通报 has its own."""
        return "bulletin" if self is DocumentKind.BULLETIN else "notice"


KIND_LABELS = {
    DocumentKind.NOTICE: "督办通知单",
    DocumentKind.YELLOW: "黄色督办单",
    DocumentKind.RED: "红色督办单",
    DocumentKind.BULLETIN: "督查通报",
}
NOTICE_KINDS = (DocumentKind.NOTICE, DocumentKind.YELLOW, DocumentKind.RED)

DEFAULT_NOTICE_NUMBER = "督〔{year}〕{seq}号"
DEFAULT_BULLETIN_NUMBER = "督通〔{year}〕{seq}号"
SETTINGS_KEYS = frozenset({"issuer", "signer", "notice_number", "bulletin_number"})
_FIELDS = frozenset({"year", "seq"})


def kind_for_level(level: int) -> DocumentKind:
    """The 督办单 that fits the highest escalation a task reached: 红色 after a red
    督办 (level 3), 黄色 after a yellow one (2), otherwise a 督办通知单."""
    if level >= 3:
        return DocumentKind.RED
    if level == 2:
        return DocumentKind.YELLOW
    return DocumentKind.NOTICE


def parse_kind(text: str, *, notices_only: bool = False) -> DocumentKind:
    """A kind by its code or Chinese name; DubanError listing the choices."""
    allowed = NOTICE_KINDS if notices_only else tuple(DocumentKind)
    for kind in allowed:
        if text.strip() in (kind.value, kind.label):
            return kind
    choices = "、".join(f"{k.value}({k.label})" for k in allowed)
    raise DubanError(f"文书种类“{text}”无效,应为 {choices}")


def check_number_pattern(pattern: str, *, where: str) -> str:
    """``pattern`` if it formats a 文号 from ``{year}`` and ``{seq}`` (which it
    must contain, with format specs such as ``{seq:03d}``); DubanError naming
    ``where`` otherwise."""
    try:
        fields = {name for _text, name, _spec, _conv in string.Formatter().parse(pattern)
                  if name is not None}
    except ValueError as err:
        raise DubanError(f"文号格式“{pattern}”无效:{err}", where=where) from None
    if "seq" not in fields or not fields <= _FIELDS:
        raise DubanError(
            f"文号格式“{pattern}”应含 {{seq}}(序号),可含 {{year}}(年份),不能有其他占位符",
            where=where,
        )
    try:
        pattern.format(year=2016, seq=1)
    except (ValueError, TypeError) as err:
        raise DubanError(f"文号格式“{pattern}”无效:{err}", where=where) from None
    return pattern


@dataclass(frozen=True)
class DocumentSettings:
    """How the office signs its documents. ``issuer`` None: the sender name of
    the settings (``DUBAN_SENDER_NAME``, 督办科)."""

    issuer: str | None = None
    signer: str | None = None
    notice_number: str = DEFAULT_NOTICE_NUMBER
    bulletin_number: str = DEFAULT_BULLETIN_NUMBER

    def number(self, kind: DocumentKind, *, year: int, seq: int) -> str:
        pattern = self.bulletin_number if kind is DocumentKind.BULLETIN else self.notice_number
        return pattern.format(year=year, seq=seq)

    def to_data(self) -> dict[str, str]:
        """The settings that differ from the defaults (empty: all defaults)."""
        defaults = asdict(DocumentSettings())
        return {k: v for k, v in asdict(self).items() if v is not None and v != defaults[k]}

    @classmethod
    def from_data(cls, data: object, *, where: str = "documents") -> DocumentSettings:
        """From the organisation file's ``documents`` mapping (every key optional);
        DubanError naming ``where`` and the key for anything invalid."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise DubanError("documents 应为映射(issuer、signer、notice_number、bulletin_number)",
                             where=where)
        unknown = sorted(str(k) for k in data if k not in SETTINGS_KEYS)
        if unknown:
            raise DubanError(f"未知的设置项:{'、'.join(unknown)}", where=where)
        values: dict[str, str] = {}
        for key in SETTINGS_KEYS:
            raw = data.get(key)
            if raw is None:
                continue
            if not isinstance(raw, str) or not raw.strip():
                raise DubanError(f"{key} 应为非空字符串", where=where)
            values[key] = raw.strip()
        for key in ("notice_number", "bulletin_number"):
            if key in values:
                check_number_pattern(values[key], where=f"{where} {key}")
        return cls(**values)


def default_opinion(
    kind: DocumentKind, *, overdue_days: int | None, reply_by: date, supervisor: str
) -> str:
    """The 督办意见 a document of ``kind`` carries unless the issuer writes one."""
    reply = f"{reply_by.year}年{reply_by.month}月{reply_by.day}日"
    if kind is DocumentKind.RED:
        late = f"已逾期{overdue_days}个工作日," if overdue_days else ""
        return (
            f"该事项{late}经催办、黄色督办仍未办结。请单位主要负责人于{reply}前到{supervisor}"
            "说明情况(约谈),提交书面整改报告,明确办结时限。"
        )
    if kind is DocumentKind.YELLOW:
        late = f"已逾期{overdue_days}个工作日," if overdue_days else ""
        return (
            f"该事项{late}请单位负责人亲自督促落实,于{reply}前办结,"
            "并书面报告办理情况及逾期原因。"
        )
    return f"请按照工作方案要求抓紧推进,于{reply}前将办理情况书面反馈,办结后及时报结。"


def chinese_date(day: date) -> str:
    """``2016年1月29日``, as dates are written on official documents."""
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class NoticeItem:
    """One task a 督办单 is about."""

    task_id: int
    measure: int
    measure_title: str
    targets: list[str]
    role_label: str
    due: date
    original_due: date | None
    state_label: str
    overdue_days: int | None
    escalations: list[str]  # e.g. 2015-12-18 催办

    @property
    def time_limit(self) -> str:
        moved = f"(原期限 {self.original_due.isoformat()})" if self.original_due else ""
        late = f",已逾期 {self.overdue_days} 个工作日" if self.overdue_days else ""
        return f"{self.due.isoformat()}{moved}{late}"


@dataclass(frozen=True)
class NoticeContent:
    """A 督办通知单 / 黄色督办单 / 红色督办单 as printed."""

    kind: DocumentKind
    number: str
    issuer: str
    issued_on: date
    plan_title: str
    department: str
    items: list[NoticeItem]
    opinion: str
    reply_by: date
    signer: str
    copy_to: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.kind.label

    def to_data(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> NoticeContent:
        items = [
            NoticeItem(**{**item, "due": date.fromisoformat(item["due"]),
                          "original_due": _day(item.get("original_due"))})
            for item in data["items"]
        ]
        return cls(**{**data, "kind": DocumentKind(data["kind"]), "items": items,
                      "issued_on": date.fromisoformat(data["issued_on"]),
                      "reply_by": date.fromisoformat(data["reply_by"])})


@dataclass(frozen=True)
class LateUnit:
    """A department with overdue open tasks, for the 通报's list of late units."""

    department: str
    tasks: int
    longest_days: int
    measures: list[str]  # 措施8(逾期30个工作日)


@dataclass(frozen=True)
class InterviewEntry:
    """A department a red 督办单 (约谈) went to in the period."""

    department: str
    measures: list[str]
    first_on: date


@dataclass(frozen=True)
class BulletinContent:
    """A 督查通报 as printed: the period's counts, late units and 约谈 list."""

    number: str
    issuer: str
    issued_on: date
    plan_title: str
    period_start: date | None
    period_end: date
    counts: dict[str, int]  # see services.reports.bulletin.BULLETIN_COUNTS
    late_units: list[LateUnit]
    interviews: list[InterviewEntry]
    done_units: list[str]  # departments whose every task due so far is done
    requirements: list[str]
    signer: str

    @property
    def title(self) -> str:
        return DocumentKind.BULLETIN.label

    @property
    def period_label(self) -> str:
        start = chinese_date(self.period_start) if self.period_start else "方案实施以来"
        return f"{start}至{chinese_date(self.period_end)}"

    def to_data(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> BulletinContent:
        return cls(**{
            **data,
            "issued_on": date.fromisoformat(data["issued_on"]),
            "period_start": _day(data.get("period_start")),
            "period_end": date.fromisoformat(data["period_end"]),
            "late_units": [LateUnit(**u) for u in data["late_units"]],
            "interviews": [InterviewEntry(**{**i, "first_on": date.fromisoformat(i["first_on"])})
                           for i in data["interviews"]],
        })


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _plain(value: Any) -> Any:
    """Dates as ISO strings, enums as their values: JSON-able."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value
