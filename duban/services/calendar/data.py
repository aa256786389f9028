"""Load the working-day calendar: the chinesecalendar package plus operator files.

Sources, later ones taking precedence **per notice year**:

1. the ``chinesecalendar`` package (2004 through 2026 in version 1.11);
2. files shipped in ``duban/data/calendar/``;
3. the operator's directory: ``Settings.calendar_dir`` (``DUBAN_CALENDAR_DIR``),
   or ``data_dir/calendar`` when that is not set and the directory exists.

A file for year Y **replaces** everything an earlier source says for Y's notice
(it is a transcription of the whole notice, so it can also correct a wrong
entry); it never touches other years. Operator files therefore extend the
calendar to new years and override the package for years it already covers.

One YAML file per year, named ``<year>.yaml`` (or ``.yml``)::

    year: 2027
    notice: 国务院办公厅关于2027年部分节假日安排的通知   # optional, free text
    holidays:
      - name: 春节
        days: ["2027-02-05..2027-02-11"]       # a range, both ends included
      - name: 清明节
        days: [2027-04-05]                     # or single dates
    workdays:                                  # 调休上班 weekend days
      - 2027-02-14
      - {name: 春节, days: [2027-02-20]}       # optionally named

Dates must lie in that year, or in December of the year before (where the New
Year holiday can start). Errors name the file and the entry at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml
from chinese_calendar import constants as chinese_calendar_data

from duban.config import PACKAGE_DIR, Settings
from duban.domain.workdays import CalendarError, HolidayNotice, WorkCalendar

SHIPPED_CALENDAR_DIR = PACKAGE_DIR / "data" / "calendar"
NOTICE_SUFFIXES = (".yaml", ".yml")
NOTICE_KEYS = ("year", "notice", "holidays", "workdays")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NEW_YEARS_DAY = "New Year's Day"


class _DatesAsTextLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad one (2027-02-30) gets our error."""


_DatesAsTextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class CalendarSources:
    """Where a calendar's operator data is read from.

    ``directories`` are read in order, a later one replacing an earlier one's
    years; ``hint`` is where an operator should add a missing year, quoted in
    the error for an uncovered year.
    """

    directories: tuple[Path, ...]
    hint: str


def calendar_sources(settings: Settings) -> CalendarSources:
    """The directories ``settings`` point at: the shipped one, then the operator's.

    Raises CalendarError when ``calendar_dir`` is set but is not a directory.
    """
    directories = [SHIPPED_CALENDAR_DIR]
    if settings.calendar_dir is not None:
        operator_dir = settings.calendar_dir
        if not operator_dir.is_dir():
            raise CalendarError(
                f"日历数据目录 {operator_dir} 不存在或不是目录(见设置 DUBAN_CALENDAR_DIR)"
            )
        directories.append(operator_dir)
    else:
        operator_dir = settings.data_dir / "calendar"
        if operator_dir.is_dir():
            directories.append(operator_dir)
    return CalendarSources(directories=tuple(directories), hint=str(operator_dir))


def load_work_calendar(settings: Settings, *, weekend_fallback: bool = False) -> WorkCalendar:
    """The calendar from the package, the shipped files and the operator's files.

    ``weekend_fallback=True`` opts in to treating uncovered years as
    Monday-to-Friday; by default such a year raises CalendarError on use.
    Raises CalendarError for an invalid data file, naming file and entry.
    """
    sources = calendar_sources(settings)
    return build_work_calendar(
        sources.directories, weekend_fallback=weekend_fallback, missing_year_hint=sources.hint
    )


def calendar_signature(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """Name, modification time and size of every calendar file the settings
    point at: equal signatures, equal calendars (cheap: one stat per file)."""
    try:
        directories = calendar_sources(settings).directories
    except CalendarError:
        return ()
    found: list[tuple[str, int, int]] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() in NOTICE_SUFFIXES and path.is_file():
                stat = path.stat()
                found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def build_work_calendar(
    directories: Sequence[Path],
    *,
    weekend_fallback: bool = False,
    missing_year_hint: str | None = None,
    include_package: bool = True,
) -> WorkCalendar:
    """A calendar from the package's notices overlaid by each directory in turn.

    A missing directory contributes nothing. Within one directory two files for
    the same year are an error; across sources a later notice for a year
    replaces an earlier one whole. ``missing_year_hint`` defaults to the last
    directory.
    """
    notices: dict[int, HolidayNotice] = {}
    if include_package:
        notices.update((notice.year, notice) for notice in package_notices())
    for directory in directories:
        notices.update((notice.year, notice) for notice in read_notice_dir(directory))
    if missing_year_hint is None:
        missing_year_hint = str(directories[-1]) if directories else "日历数据目录"
    return WorkCalendar(
        notices.values(), weekend_fallback=weekend_fallback, missing_year_hint=missing_year_hint
    )


def package_notices() -> list[HolidayNotice]:
    """One notice per year the chinesecalendar package covers, ascending.

    The package lists dates only; a December date of its New Year's Day holiday
    belongs to the next year's notice when the package covers that year.
    """
    holidays: dict[date, str] = chinese_calendar_data.holidays
    workdays: dict[date, str] = chinese_calendar_data.workdays
    chinese_names = {h.value: h.chinese for h in chinese_calendar_data.Holiday}
    first, last = min(holidays).year, max(holidays).year
    per_year: dict[int, tuple[dict[date, str], dict[date, str]]] = {
        year: ({}, {}) for year in range(first, last + 1)
    }
    for index, source in enumerate((holidays, workdays)):
        for day, english in source.items():
            year = day.year
            if day.month == 12 and english == _NEW_YEARS_DAY and year + 1 <= last:
                year += 1
            if year in per_year:  # the package's range is what it claims to cover
                per_year[year][index][day] = chinese_names.get(english, english)
    label = f"chinesecalendar {_package_version()} 内置数据"
    return [
        HolidayNotice(year=year, holidays=h, workdays=w, source=f"{label}({year}年)")
        for year, (h, w) in sorted(per_year.items())
    ]


def read_notice_dir(directory: Path) -> list[HolidayNotice]:
    """The notices in ``directory`` (``*.yaml``/``*.yml``), by year; [] if it is absent.

    Other files (a README) are ignored. Raises CalendarError naming both files
    when two are for the same year.
    """
    if not directory.is_dir():
        return []
    notices: dict[int, HolidayNotice] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in NOTICE_SUFFIXES or not path.is_file():
            continue
        notice = read_notice_file(path)
        other = notices.get(notice.year)
        if other is not None:
            raise CalendarError(f"{notice.year}年的节假日安排重复:{other.source} 与 {path}")
        notices[notice.year] = notice
    return [notices[year] for year in sorted(notices)]


def read_notice_file(path: Path) -> HolidayNotice:
    """Parse one operator file; CalendarError names the file and the entry at fault."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"无法读取(需为 UTF-8 文本):{exc}", where=source) from exc
    try:
        data = yaml.load(text, Loader=_DatesAsTextLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source} 第{mark.line + 1}行" if mark is not None else source
        raise CalendarError(f"不是有效的 YAML:{exc}", where=where) from exc
    stem_year = int(path.stem) if path.stem.isdigit() else None
    return parse_notice(data, source=source, file_year=stem_year)


def parse_notice(data: object, *, source: str, file_year: int | None = None) -> HolidayNotice:
    """Build a notice from loaded YAML ``data`` (format in the module docstring).

    ``file_year`` is the year the file name claims; it must equal ``year``.
    """
    if not isinstance(data, dict):
        raise CalendarError("文件内容应为包含 year、holidays、workdays 的映射", where=source)
    unknown = [str(key) for key in data if key not in NOTICE_KEYS]
    if unknown:
        raise CalendarError(
            f"未知的键 {'、'.join(unknown)},只允许 {'、'.join(NOTICE_KEYS)}", where=source
        )
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2999:
        raise CalendarError(f"year 应为四位年份整数,实际为 {year!r}", where=source)
    if file_year is not None and file_year != year:
        raise CalendarError(f"文件名表示{file_year}年,内容却是 year: {year}", where=source)
    notice_title = data.get("notice")
    if notice_title is not None and not isinstance(notice_title, str):
        raise CalendarError("notice 应为文字(通知标题)", where=source)

    holidays: dict[date, str] = {}
    raw_holidays = data.get("holidays")
    if not isinstance(raw_holidays, list) or not raw_holidays:
        raise CalendarError("holidays 应为非空列表,每项含 name 与 days", where=source)
    for index, item in enumerate(raw_holidays, start=1):
        entry = f"holidays 第{index}项"
        if not isinstance(item, dict) or set(item) != {"name", "days"}:
            raise CalendarError(f"{entry}应为只含 name 与 days 的映射", where=source)
        name = _holiday_name(item["name"], entry=entry, source=source)
        for day in _parse_days(item["days"], entry=f"{entry}“{name}”", source=source):
            _put(holidays, day, name, entry=f"{entry}“{name}”", source=source)

    workdays: dict[date, str] = {}
    raw_workdays = data.get("workdays") or []
    if not isinstance(raw_workdays, list):
        raise CalendarError("workdays 应为日期列表", where=source)
    for index, item in enumerate(raw_workdays, start=1):
        entry = f"workdays 第{index}项"
        if isinstance(item, dict):
            if set(item) != {"name", "days"}:
                raise CalendarError(f"{entry}应为日期,或只含 name 与 days 的映射", where=source)
            name = _holiday_name(item["name"], entry=entry, source=source)
            days = _parse_days(item["days"], entry=f"{entry}“{name}”", source=source)
        else:
            name = ""
            days = _parse_days([item], entry=entry, source=source)
        for day in days:
            _put(workdays, day, name, entry=entry, source=source)

    label = f"{source}({notice_title})" if notice_title else source
    return HolidayNotice(year=year, holidays=holidays, workdays=workdays, source=label)


def _holiday_name(raw: object, *, entry: str, source: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise CalendarError(f"{entry}的 name 应为节日名称", where=source)
    return raw.strip()


def _put(target: dict[date, str], day: date, name: str, *, entry: str, source: str) -> None:
    if day in target:
        raise CalendarError(f"{entry}的日期 {day.isoformat()} 重复列出", where=source)
    target[day] = name


def _parse_days(raw: object, *, entry: str, source: str) -> list[date]:
    """Dates and ``"first..last"`` ranges (both ends included), in order."""
    if not isinstance(raw, list) or not raw:
        raise CalendarError(f"{entry}的 days 应为非空日期列表", where=source)
    days: list[date] = []
    for value in raw:
        if isinstance(value, str) and ".." in value:
            first_text, _, last_text = value.partition("..")
            first = _parse_date(first_text.strip(), entry=entry, source=source)
            last = _parse_date(last_text.strip(), entry=entry, source=source)
            if last < first:
                raise CalendarError(f"{entry}的日期范围“{value}”结束早于开始", where=source)
            days.extend(first + timedelta(days=n) for n in range((last - first).days + 1))
        else:
            days.append(_parse_date(value, entry=entry, source=source))
    return days


def _parse_date(value: object, *, entry: str, source: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarError(
        f"{entry}中的“{value}”不是有效日期,应写作 YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD",
        where=source,
    )


def _package_version() -> str:
    try:
        return version("chinesecalendar")
    except PackageNotFoundError:  # imported from a source tree without metadata
        return ""


# --- importing a year's file ---------------------------------------------------

JSON_SUFFIX = ".json"
HOLIDAY_CN_KEYS = ("year", "papers", "days")


def read_calendar_file(path: Path) -> HolidayNotice:
    """One year's arrangement from the operator's YAML (the format above) or a
    holiday-cn JSON file (``{year, papers, days: [{name, date, isOffDay}]}``).
    CalendarError names the file and the field or entry at fault."""
    if path.suffix.lower() == JSON_SUFFIX:
        return read_holiday_cn_file(path)
    if path.suffix.lower() not in NOTICE_SUFFIXES:
        raise CalendarError(
            "日历文件应为 .yaml/.yml(本系统格式)或 .json(holiday-cn 格式)", where=str(path)
        )
    return read_notice_file(path)


def read_holiday_cn_file(path: Path) -> HolidayNotice:
    """A holiday-cn year file: ``year``, ``papers`` (the notices' URLs) and
    ``days``, each ``{name, date: "YYYY-MM-DD", isOffDay: true|false}`` (false:
    a weekend day worked, 调休上班). Other top-level keys ($schema, $id) are
    ignored. Raises CalendarError naming the file and the entry."""
    import json

    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"无法读取(需为 UTF-8 文本):{exc}", where=source) from exc
    except json.JSONDecodeError as exc:
        raise CalendarError(
            f"不是有效的 JSON:{exc.msg}", where=f"{source} 第{exc.lineno}行"
        ) from exc
    if not isinstance(data, dict) or "days" not in data:
        raise CalendarError("应为含 year、papers、days 的 holiday-cn 格式对象", where=source)
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2999:
        raise CalendarError(f"year 应为四位年份整数,实际为 {year!r}", where=source)
    stem_year = int(path.stem) if path.stem.isdigit() else None
    if stem_year is not None and stem_year != year:
        raise CalendarError(f"文件名表示{stem_year}年,内容却是 year: {year}", where=source)
    papers = data.get("papers") or []
    if not isinstance(papers, list) or not all(isinstance(p, str) for p in papers):
        raise CalendarError("papers 应为通知网址的列表", where=source)
    days = data["days"]
    if not isinstance(days, list):
        raise CalendarError("days 应为列表,每项含 name、date、isOffDay", where=source)
    if not days:
        raise CalendarError(
            f"days 为空:{year}年的节假日安排尚未收录(通知可能尚未发布),未导入", where=source
        )
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for index, item in enumerate(days, start=1):
        entry = f"days 第{index}项"
        if not isinstance(item, dict):
            raise CalendarError(f"{entry}应为含 name、date、isOffDay 的对象", where=source)
        missing = [key for key in ("name", "date", "isOffDay") if key not in item]
        if missing:
            raise CalendarError(f"{entry}缺少 {'、'.join(missing)}", where=source)
        name = _holiday_name(item["name"], entry=entry, source=source)
        day = _parse_date(item["date"], entry=f"{entry}“{name}”", source=source)
        off = item["isOffDay"]
        if not isinstance(off, bool):
            raise CalendarError(f"{entry}“{name}”的 isOffDay 应为 true 或 false", where=source)
        _put(holidays if off else workdays, day, name, entry=f"{entry}“{name}”", source=source)
    label = f"{source}(holiday-cn;{papers[0]})" if papers else f"{source}(holiday-cn)"
    return HolidayNotice(year=year, holidays=holidays, workdays=workdays, source=label)


def notice_yaml(notice: HolidayNotice, title: str | None = None) -> str:
    """``notice`` in the operator's YAML format (one holiday per name, its days
    in order), which :func:`read_notice_file` reads back as the same notice."""
    def grouped(days: Mapping[date, str]) -> list[dict[str, object]]:
        names: dict[str, list[str]] = {}
        for day, name in sorted(days.items()):
            names.setdefault(name or "调休", []).append(day.isoformat())
        return [{"name": name, "days": listed} for name, listed in names.items()]

    data: dict[str, object] = {"year": notice.year}
    if title:
        data["notice"] = title
    data["holidays"] = grouped(notice.holidays)
    if notice.workdays:
        data["workdays"] = grouped(notice.workdays)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
