"""Summary charts of a ledger, as small server-rendered SVG (no script, no CDN).

- :func:`lights_by_section`: one stacked bar per section, its tasks by light;
- :func:`completion_by_department`: one stacked bar per department, its tasks
  办结 / 待审核 / 在办 / 逾期, with the completion rate;
- :func:`overdue_trend`: the number of overdue tasks at the end of each of the
  last weeks (see the function for what "overdue on a day" means here).

:func:`bars_svg` and :func:`columns_svg` draw them (Jinja2 templates
``templates/reports/bar_chart.svg`` and ``column_chart.svg``, autoescaped).
The drawings are narrow (:data:`WIDTH` user units, a phone's width) and scale
to their box: each bar has its label on a line of its own above it, so long
department names stay readable on a phone and on paper; colours come with
words (a legend, the counts in text) so a grey printout still reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol
from urllib.parse import quote

from duban.domain.lifecycle import TaskState
from duban.domain.status import LIGHT_LABELS, Light, TaskStatus
from duban.services.reports.charts import nice_ticks
from notifications.render import DEFAULT_TEMPLATES_DIR, render_drawing


class ChartRow(Protocol):
    """What the charts read of a task: a ledger row
    (:class:`~duban.services.reports.ledger.LedgerRow`) or a task's light
    (:class:`~duban.services.tasks.lights.LitTask`)."""

    @property
    def plan(self) -> str: ...
    @property
    def section(self) -> str: ...
    @property
    def section_number(self) -> int | None: ...
    @property
    def department(self) -> str: ...
    @property
    def state(self) -> TaskState: ...
    @property
    def status(self) -> TaskStatus: ...
    @property
    def light(self) -> Light: ...
    @property
    def due(self) -> date: ...
    @property
    def assigned_on(self) -> date: ...
    @property
    def submitted_on(self) -> date | None: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def weight(self) -> int:
        """How many tasks the row stands for (1, or a group's count)."""


class ChartSource(Protocol):
    """What the charts read of a ledger: its day, its rows and the
    directory's order of departments."""

    @property
    def as_of(self) -> date: ...
    @property
    def rows(self) -> Sequence[ChartRow]: ...
    @property
    def department_order(self) -> dict[str, int]: ...


@dataclass
class ChartTasks:
    """Rows to chart as of a day (a :class:`ChartSource`)."""

    as_of: date
    rows: Sequence[ChartRow]
    department_order: dict[str, int] = field(default_factory=dict)

WIDTH = 360
LIGHT_COLOURS = {
    Light.RED: "#d62728",
    Light.YELLOW: "#e0b000",
    Light.BLUE: "#3b7dd8",
    Light.LATE: "#9467bd",
    Light.GREEN: "#2ca02c",
}
PROGRESS = (  # (key, label, colour) of completion_by_department's segments
    ("approved", "已办结", "#2ca02c"),
    ("submitted", "待审核", "#3b7dd8"),
    ("open", "在办", "#c8ccd1"),
    ("overdue", "逾期", "#d62728"),
)


@dataclass(frozen=True)
class Segment:
    label: str
    value: int
    colour: str


@dataclass(frozen=True)
class Bar:
    """One labelled stacked bar; ``note`` is printed after the counts."""

    label: str
    segments: tuple[Segment, ...]
    link: str | None = None
    note: str = ""

    @property
    def total(self) -> int:
        return sum(s.value for s in self.segments)


def _active(rows: Sequence[ChartRow]) -> list[ChartRow]:
    return [r for r in rows if not r.cancelled]


def lights_by_section(ledger: ChartSource, *, link: str | None = None) -> list[Bar]:
    """One bar per section (plan and section order): its tasks by light.
    ``link`` (a URL prefix) makes each bar link to ``link + section number``."""
    groups: dict[tuple[str, int | None], list[ChartRow]] = {}
    names: dict[tuple[str, int | None], str] = {}
    for row in sorted(_active(ledger.rows), key=lambda r: (r.plan, r.section_number or 0)):
        key = (row.plan, row.section_number)
        groups.setdefault(key, []).append(row)
        names[key] = row.section
    bars = []
    for key, rows in groups.items():
        segments = tuple(
            Segment(LIGHT_LABELS[light], sum(r.weight for r in rows if r.light is light),
                    LIGHT_COLOURS[light])
            for light in Light
        )
        target = f"{link}{key[1]}" if link is not None and key[1] is not None else None
        bars.append(Bar(names[key], segments, target))
    return bars


def completion_by_department(
    ledger: ChartSource, *, order: dict[str, int] | None = None, link: str | None = None
) -> list[Bar]:
    """One bar per department (in ``order``, the directory's, then by name):
    已办结, 待审核, 在办 (open, not overdue) and 逾期 (open and overdue), with
    ``办结率 N%`` as the note. ``link`` + the department's name (URL-quoted by
    the template) is each bar's link."""
    by_department: dict[str, list[ChartRow]] = {}
    for row in _active(ledger.rows):
        by_department.setdefault(row.department, []).append(row)
    rank = order or {}
    bars = []
    for name in sorted(by_department, key=lambda n: (rank.get(n, len(rank)), n)):
        rows = by_department[name]
        counts = {
            "approved": sum(r.weight for r in rows if r.state is TaskState.APPROVED),
            "submitted": sum(r.weight for r in rows if r.state is TaskState.SUBMITTED),
            "overdue": sum(r.weight for r in rows if r.status is TaskStatus.OVERDUE),
        }
        total = sum(r.weight for r in rows)
        counts["open"] = total - sum(counts.values())
        segments = tuple(Segment(label, counts[key], colour) for key, label, colour in PROGRESS)
        rate = round(100 * counts["approved"] / total)
        bars.append(Bar(name, segments, f"{link}{quote(name)}" if link is not None else None,
                        f"办结率 {rate}%"))
    return bars


def overdue_on(row: ChartRow, day: date) -> bool:
    """Whether ``row`` was overdue at the end of ``day``: past its (current)
    due date and not yet submitted by then (a 报结 later returned counts as
    not submitted)."""
    submitted = row.submitted_on
    return row.due < day and (submitted is None or submitted > day)


def trend_days(as_of: date, first: date, *, weeks: int = 12) -> list[date]:
    """``as_of`` and the same weekday of the ``weeks`` - 1 weeks before it,
    oldest first, from ``first`` (the first assignment) on."""
    days = [as_of - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    return [d for d in days if d >= first]


def overdue_trend(ledger: ChartSource, *, weeks: int = 12) -> list[tuple[date, int]]:
    """(day, overdue tasks) at the ledger's day and at each of the ``weeks`` - 1
    weeks before it, oldest first; weeks before the first task was assigned are
    left out."""
    rows = _active(ledger.rows)
    if not rows:
        return []
    first = min(r.assigned_on for r in rows)
    days = trend_days(ledger.as_of, first, weeks=weeks)
    return [(d, sum(r.weight for r in rows if overdue_on(r, d))) for d in days]


# --- drawing -------------------------------------------------------------------

ROW_HEIGHT = 52  # name line, bar, counts line
NAME_CHARS = 27  # CJK characters of a name that fit on its line
BAR_HEIGHT = 14
LEFT, RIGHT = 8, 8


def bars_svg(
    title: str, bars: list[Bar], *, legend: list[tuple[str, str]] | None = None
) -> str:
    """Stacked horizontal bars, one per ``Bar``, scaled to the largest total;
    ``legend`` is (label, colour) pairs (default: the first bar's segments)."""
    top = 30
    legend = legend if legend is not None else [
        (s.label, s.colour) for s in (bars[0].segments if bars else ())
    ]
    legend_rows = _legend_layout(legend, top)
    if legend_rows:
        top = legend_rows[-1][3] + 22
    most = max((b.total for b in bars), default=0) or 1
    span = WIDTH - LEFT - RIGHT
    drawn = []
    for index, bar in enumerate(bars):
        y = top + index * ROW_HEIGHT
        x = float(LEFT)
        parts = []
        for segment in bar.segments:
            width = round(span * segment.value / most, 1)
            if segment.value:
                parts.append({"x": round(x, 1), "width": width, "colour": segment.colour,
                              "label": segment.label, "value": segment.value})
            x += width
        counts = " ".join(f"{s.label}{s.value}" for s in bar.segments if s.value)
        name = bar.label if len(bar.label) <= NAME_CHARS else bar.label[: NAME_CHARS - 1] + "…"
        drawn.append({"label": bar.label, "name": name, "y": y, "bar_y": y + 6, "parts": parts,
                      "link": bar.link,
                      "text": "、".join(filter(None, [counts, bar.note])) or "无任务"})
    height = top + len(bars) * ROW_HEIGHT + 8
    return _render("reports/bar_chart.svg", title=title, width=WIDTH, height=height,
                   bars=drawn, legend=legend_rows, bar_height=BAR_HEIGHT, empty=not bars)


def _legend_layout(
    legend: list[tuple[str, str]], top: int
) -> list[tuple[str, str, float, int]]:
    """(label, colour, x, y) of each legend entry, wrapped to the width."""
    placed = []
    x, y = float(LEFT), top
    for label, colour in legend:
        width = 18 + 13 * len(label) + 10
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 20
        placed.append((label, colour, x, y))
        x += width
    return placed


def columns_svg(title: str, points: list[tuple[date, int]], *, colour: str = "#d62728") -> str:
    """One column per (day, count), the count above it and the day (MM-DD)
    below every other column, on a scale of round ticks."""
    top, bottom, left = 40, 40, 30
    height = 220
    plot_bottom = height - bottom
    # Counts: whole-number ticks, at least 0-4 (never 0, 0.5, 1).
    ticks = nice_ticks(0, max(max((v for _d, v in points), default=0), 4), 4)
    high = ticks[-1] or 1
    span = WIDTH - left - RIGHT
    step = span / max(len(points), 1)
    columns = []
    for index, (day, value) in enumerate(points):
        h = round((plot_bottom - top) * value / high, 1)
        columns.append({
            "x": round(left + index * step + step * 0.15, 1),
            "width": round(step * 0.7, 1),
            "y": round(plot_bottom - h, 1),
            "height": h,
            "value": value,
            "label": f"{day.month}-{day.day:02d}"
            if index % 2 == (len(points) - 1) % 2 else "",
            "centre": round(left + index * step + step / 2, 1),
            "day": day.isoformat(),
        })
    y_ticks = [{"y": round(plot_bottom - (plot_bottom - top) * t / high, 1),
                "label": f"{t:g}"} for t in ticks]
    return _render("reports/column_chart.svg", title=title, width=WIDTH, height=height,
                   left=left, right=WIDTH - RIGHT, plot_bottom=plot_bottom, columns=columns,
                   y_ticks=y_ticks, colour=colour, empty=not points)


def _render(template: str, **context: object) -> str:
    return render_drawing(template, context, templates_dir=DEFAULT_TEMPLATES_DIR)


def ledger_charts(
    ledger: ChartSource,
    *,
    measures_link: str | None = None,
    department: str | None = None,
    weeks: int = 12,
    trend: list[tuple[date, int]] | None = None,
    department_rows: Sequence[ChartRow] | None = None,
) -> dict[str, str]:
    """The dashboard's charts of ``ledger`` (only ``department``'s tasks when
    given) as SVG text: ``sections`` (lights by section; bars link to
    ``measures_link`` + ``&section=N``), ``trend`` (overdue week by week:
    :func:`overdue_trend` of the rows, or ``trend`` when given, already
    counted for ``department``) and,
    without ``department``, ``departments`` (completion and overdue; bars link
    to ``measures_link`` + ``&department=NAME``), of ``department_rows``
    when given (the ledger's rows then count the sections only)."""
    if department is not None:
        ledger = ChartTasks(ledger.as_of, [r for r in ledger.rows if r.department == department],
                            ledger.department_order)
    link = measures_link
    charts = {
        "sections": bars_svg(
            "各部分任务灯色",
            lights_by_section(ledger, link=f"{link}&section=" if link is not None else None),
        ),
        "trend": columns_svg(f"逾期未报结任务数(近{weeks}周,每周同一天)",
                             overdue_trend(ledger, weeks=weeks) if trend is None else trend),
    }
    if department is None:
        if department_rows is not None:
            ledger = ChartTasks(ledger.as_of, department_rows, ledger.department_order)
        charts["departments"] = departments_svg(
            ledger, link=f"{link}&department=" if link is not None else None
        )
    return charts


def departments_svg(ledger: ChartSource, *, link: str | None = None) -> str:
    """Completion and overdue by department, in the directory's order."""
    return bars_svg(
        "各单位办结与逾期",
        completion_by_department(ledger, order=ledger.department_order, link=link),
        legend=[(label, colour) for _key, label, colour in PROGRESS],
    )
