"""The organisation file as data: departments, who receives messages, office
hours, and the escalation policy in force (pure, stdlib only).

An organisation file is a superset of the department directory file: the
directory's ``departments`` entries may carry ``liaison`` and ``head``
contacts, and the file may name ``coordinators``, ``supervisors``,
``timezone``, ``office_hours``, ``base_url``, an ``escalation`` policy and
``documents`` (issuer, signer and 文号 patterns of printed documents).
:func:`parse_org` turns the parsed YAML into an :class:`OrgFile`; notification
addresses are checked by a function the caller passes in (the domain does
not know Apprise), so every address is validated before anything is stored.

:func:`next_send_time` says when a message that falls due at some moment may
go out: on a working day, inside office hours.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from duban.domain.directory import Directory
from duban.domain.errors import DubanError
from duban.domain.escalation import DEFAULT_POLICY, EscalationPolicy
from duban.domain.issued_documents import DocumentSettings
from duban.domain.labels import ORG_ROLE_LABELS
from duban.domain.workdays import WorkCalendar, likely_workday

DEFAULT_TIMEZONE = "Asia/Shanghai"


class OrgFileError(DubanError):
    """An organisation file is invalid; ``where`` names the file and entry."""


class ContactRole(StrEnum):
    LIAISON = "liaison"  # 联络员 of a department
    HEAD = "head"  # 负责人 of a department
    COORDINATOR = "coordinator"  # 督办科
    SUPERVISOR = "supervisor"  # 督查室



TOP_LEVEL_KEYS = frozenset(
    {
        "timezone",
        "office_hours",
        "base_url",
        "coordinators",
        "supervisors",
        "escalation",
        "documents",
        "departments",
    }
)
DEPARTMENT_KEYS = frozenset({"name", "aliases", "kind", "functional_area", "liaison", "head"})
CONTACT_KEYS = frozenset({"name", "notify"})
DEPARTMENT_ROLES = (ContactRole.LIAISON, ContactRole.HEAD)

_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*[-~–—至到]\s*(\d{1,2}):(\d{2})$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,39})://")


@dataclass(frozen=True)
class OfficeHours:
    """The daily window, local time, in which messages go out: ``start`` ≤ t < ``end``."""

    start: time = time(9, 0)
    end: time = time(18, 0)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise OrgFileError(f"办公时间的开始 {self.start:%H:%M} 应早于结束 {self.end:%H:%M}")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @classmethod
    def parse(cls, text: object, *, where: str | None = None) -> OfficeHours:
        """``"HH:MM-HH:MM"`` (full-width digits and ``~``/``至`` also accepted).

        Raises OrgFileError naming ``where`` when the text is not of that form,
        a time is out of range, or the start is not before the end.
        """
        if not isinstance(text, str):
            raise OrgFileError(
                "办公时间 office_hours 应为带引号的字符串,如 \"09:00-18:00\"", where=where
            )
        normal = unicodedata.normalize("NFKC", text).strip()
        match = _HOURS.match(normal)
        if match is None:
            raise OrgFileError(
                f"办公时间“{text}”格式无效,应为 HH:MM-HH:MM,如 09:00-18:00", where=where
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise OrgFileError(f"办公时间“{text}”中的时刻超出范围", where=where) from None
        if not start < end:
            raise OrgFileError(f"办公时间“{text}”的开始时间应早于结束时间", where=where)
        return cls(start, end)


DEFAULT_OFFICE_HOURS = OfficeHours()


@dataclass(frozen=True)
class ContactSpec:
    """One person as the file names them, with their notification addresses.

    ``urls`` are Apprise URLs and secrets: never print them, print their
    privacy form (``notifications.contacts.privacy``).
    """

    role: ContactRole
    name: str
    urls: tuple[str, ...]


@dataclass
class OrgFile:
    """An organisation file, validated. Missing settings hold their defaults."""

    directory: Directory
    timezone: str = DEFAULT_TIMEZONE
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
    base_url: str | None = None
    coordinators: list[ContactSpec] = field(default_factory=list)
    supervisors: list[ContactSpec] = field(default_factory=list)
    # Official department name → its liaison and head contacts, in file order.
    department_contacts: dict[str, list[ContactSpec]] = field(default_factory=dict)
    policy: EscalationPolicy = DEFAULT_POLICY
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    source: str = ""

    def contacts(self) -> Iterator[tuple[str | None, ContactSpec]]:
        """Every contact with its department's official name (None: organisation-wide)."""
        for spec in self.coordinators:
            yield None, spec
        for spec in self.supervisors:
            yield None, spec
        for department in self.directory:
            for spec in self.department_contacts.get(department.name, ()):
                yield department.name, spec

    @property
    def contact_count(self) -> int:
        return sum(1 for _ in self.contacts())

    @property
    def channel_count(self) -> int:
        return sum(len(spec.urls) for _, spec in self.contacts())


def contact_key(department: str | None, role: ContactRole | str, name: str) -> str:
    """The stable identity of a contact across reloads."""
    return f"{department or '*'}/{ContactRole(role).value}/{name}"


def url_scheme(url: str) -> str | None:
    """The scheme of ``url`` (``mailto``), or None when it has none; safe to print."""
    match = _SCHEME.match(url.strip())
    return match.group(1).lower() if match else None


def parse_org(
    data: object, *, source: str, check_url: Callable[[str], object]
) -> OrgFile:
    """Validate parsed YAML as an organisation file.

    ``check_url`` raises DubanError for an unusable address; it is called for
    every address before this returns, so an invalid one anywhere fails the
    whole file. Errors (OrgFileError, DirectoryError, DubanError) name
    ``source`` and the entry, e.g. ``departments 第3个单位“甲局” liaison 第1人``;
    an address is shown only as its scheme, never in full. Unknown keys are
    errors (a misspelt ``liasion`` would otherwise silently drop a contact).
    """
    if not isinstance(data, Mapping) or "departments" not in data:
        raise OrgFileError("应为包含 departments 列表的 YAML 映射", where=source)
    _reject_unknown(data, TOP_LEVEL_KEYS, where=source)
    records = data["departments"]
    if not isinstance(records, list):
        raise OrgFileError("departments 应为单位列表", where=source)
    directory = Directory.from_records(records, source=source)
    org = OrgFile(directory=directory, source=source)
    org.timezone = _timezone(data.get("timezone", DEFAULT_TIMEZONE), where=source)
    if data.get("office_hours") is not None:
        org.office_hours = OfficeHours.parse(
            data["office_hours"], where=f"{source} office_hours"
        )
    org.base_url = _base_url(data.get("base_url"), where=f"{source} base_url")
    org.coordinators = _contacts(
        data.get("coordinators"), ContactRole.COORDINATOR, where=f"{source} coordinators",
        check_url=check_url,
    )
    org.supervisors = _contacts(
        data.get("supervisors"), ContactRole.SUPERVISOR, where=f"{source} supervisors",
        check_url=check_url,
    )
    for index, record in enumerate(records, start=1):
        # Directory.from_records has checked each record is a mapping with a name.
        name = str(record["name"]).strip()
        where = f"{source} departments 第{index}个单位“{name}”"
        _reject_unknown(record, DEPARTMENT_KEYS, where=where)
        specs: list[ContactSpec] = []
        for role in DEPARTMENT_ROLES:
            specs += _contacts(
                record.get(role.value), role, where=f"{where} {role.value}", check_url=check_url
            )
        if specs:
            org.department_contacts[name] = specs
    _check_unique(org)
    escalation = data.get("escalation")
    if escalation is not None:
        if not isinstance(escalation, Mapping):
            raise OrgFileError("escalation 应为包含 steps 的映射", where=source)
        org.policy = EscalationPolicy.from_data(escalation, source=f"{source} escalation")
    org.documents = DocumentSettings.from_data(data.get("documents"),
                                               where=f"{source} documents")
    return org


def _reject_unknown(record: Mapping[Any, Any], allowed: frozenset[str], *, where: str) -> None:
    unknown = [str(k) for k in record if k not in allowed]
    if unknown:
        raise OrgFileError(
            f"不认识的字段 {'、'.join(unknown)}(可用:{'、'.join(sorted(allowed))})", where=where
        )


def _timezone(value: object, *, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OrgFileError("时区 timezone 应为时区名,如 Asia/Shanghai", where=where)
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise OrgFileError(f"时区“{value}”无效,应为时区名,如 Asia/Shanghai", where=where) from None
    return value.strip()


def _base_url(value: object, *, where: str) -> str | None:
    """An http(s) URL without credentials, no trailing slash; None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OrgFileError("应为网址字符串,如 http://127.0.0.1:8000", where=where)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OrgFileError("应为 http:// 或 https:// 开头的网址", where=where)
    if parts.username or parts.password:
        raise OrgFileError("网址中不能包含用户名或密码(链接会出现在消息里)", where=where)
    return value.strip().rstrip("/")


def _contacts(
    raw: object, role: ContactRole, *, where: str, check_url: Callable[[str], object]
) -> list[ContactSpec]:
    """A list of ``{name, notify}`` entries (a single mapping is a list of one)."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise OrgFileError("应为联系人列表,每人写 {name: 姓名, notify: [地址, …]}", where=where)
    specs: list[ContactSpec] = []
    for index, entry in enumerate(raw, start=1):
        at = f"{where} 第{index}人"
        if not isinstance(entry, Mapping):
            raise OrgFileError("应为 {name: 姓名, notify: [地址, …]}", where=at)
        _reject_unknown(entry, CONTACT_KEYS, where=at)
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise OrgFileError("缺少姓名 name", where=at)
        at = f"{at}“{name.strip()}”"
        notify = entry.get("notify")
        if isinstance(notify, str):
            notify = [notify]
        if not isinstance(notify, list) or not notify:
            raise OrgFileError("notify 应为至少一个通知地址的列表", where=at)
        urls: list[str] = []
        for position, url in enumerate(notify, start=1):
            if not isinstance(url, str) or not url.strip():
                raise OrgFileError(f"notify 第{position}个地址应为非空字符串", where=at)
            urls.append(_checked(url.strip(), position, where=at, check_url=check_url))
        if len(set(urls)) != len(urls):
            raise OrgFileError("notify 中有重复的地址", where=at)
        specs.append(ContactSpec(role=role, name=name.strip(), urls=tuple(urls)))
    return specs


def _checked(url: str, position: int, *, where: str, check_url: Callable[[str], object]) -> str:
    try:
        check_url(url)
    except DubanError as err:
        scheme = url_scheme(url)
        shown = f"{scheme}://***" if scheme else "无法识别的地址"
        raise OrgFileError(
            f"notify 第{position}个地址无效({shown}):{err.message}", where=where
        ) from None
    return url


def _check_unique(org: OrgFile) -> None:
    seen: set[str] = set()
    for department, spec in org.contacts():
        key = contact_key(department, spec.role, spec.name)
        if key in seen:
            where = f"{org.source} " + (
                f"单位“{department}”" if department else f"{spec.role.value}s"
            )
            raise OrgFileError(
                f"{ORG_ROLE_LABELS[spec.role]}“{spec.name}”出现了两次(同一单位同一角色下姓名应唯一)",
                where=where,
            )
        seen.add(key)


def office_window(day: date, hours: OfficeHours, *, tz: tzinfo) -> tuple[datetime, datetime]:
    """The office-hours window of ``day`` as aware datetimes in ``tz`` (start, end)."""
    return (
        datetime.combine(day, hours.start, tzinfo=tz),
        datetime.combine(day, hours.end, tzinfo=tz),
    )


def next_send_time(
    moment: datetime, *, hours: OfficeHours, calendar: WorkCalendar, tz: tzinfo
) -> datetime:
    """The earliest instant ≥ ``moment`` on a working day within office hours.

    ``moment`` must be aware (ValueError otherwise); the result is in
    ``moment``'s zone. Inside the window ``moment`` itself is returned; before
    it, that morning's start; at or after its end, or on a day off, the start
    of the next working day. A day in a year whose holiday notice is not yet
    published counts as working from Monday to Friday
    (:func:`~duban.domain.workdays.likely_workday`): a message waits for office
    hours, not for the State Council.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    local = moment.astimezone(tz)
    day = local.date()
    if likely_workday(calendar, day):
        start, end = office_window(day, hours, tz=tz)
        if local < start:
            return start.astimezone(moment.tzinfo)
        if local < end:
            return moment
    following = day + timedelta(days=1)
    while not likely_workday(calendar, following):
        following += timedelta(days=1)
    return office_window(following, hours, tz=tz)[0].astimezone(moment.tzinfo)
