"""Indicator trajectories: reported values against the straight line to target.

For a measure with numeric targets, the panels of
:mod:`duban.services.reports.trajectories` (one per target, a series per task
reporting it: its readings, and the straight path from its first reading to
the target value on the task's due date). :func:`trajectory_svg` draws them as one
small SVG (Jinja2 template ``templates/reports/indicator_chart.svg``, autoescaped), no
plotting library needed; :func:`indicator_chart` does both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from duban.domain.labels import COMPARATOR_SIGNS
from duban.domain.status import Indicator, expected_value
from duban.services.reports.trajectories import (
    PLOT_BOUND,
    IndicatorPanel,
    Series,
    measure_trajectories,
)
from notifications.render import DEFAULT_TEMPLATES_DIR, render_drawing

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
WIDTH, PANEL_HEIGHT = 820, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 230, 44, 40


@dataclass(frozen=True)
class Layout:
    """Where a panel's parts go: the wide layout has its legend on the right,
    the narrow one (a phone's width) under the plot."""

    width: int = WIDTH
    plot_height: int = PANEL_HEIGHT
    margin_left: int = MARGIN_LEFT
    margin_right: int = MARGIN_RIGHT
    legend_below: bool = False
    legend_step: int = 20

    def panel_height(self, series: int) -> int:
        if not self.legend_below:
            return self.plot_height
        return self.plot_height + 16 + self.legend_step * (series + 1)


WIDE = Layout()
NARROW = Layout(width=360, plot_height=240, margin_left=40, margin_right=12,
                legend_below=True, legend_step=18)


# --- drawing -------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Maps dates and values into one panel's plot area (SVG coordinates)."""

    start: date
    end: date
    low: float
    high: float
    left: float
    right: float
    top: float
    bottom: float

    def x(self, day: date) -> float:
        span = max((self.end - self.start).days, 1)
        return round(self.left + (self.right - self.left) * (day - self.start).days / span, 1)

    def y(self, value: float) -> float:
        span = (self.high - self.low) or 1.0
        return round(self.bottom - (self.bottom - self.top) * (value - self.low) / span, 1)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _month_ticks(start: date, end: date, most: int = 8) -> list[date]:
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    every = max(1, math.ceil(months / most))
    ticks, year, month = [], start.year, start.month
    index = 0
    while date(year, month, 1) <= end:
        if date(year, month, 1) >= start and index % every == 0:
            ticks.append(date(year, month, 1))
        index += 1
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return ticks


def _panel_scale(
    panel: IndicatorPanel, top: float, as_of: date, layout: Layout
) -> tuple[Scale, list[float]]:
    """The panel's scale (its days, and its values with a tenth's margin) and
    the value ticks it ends on."""
    starts = [s.assigned_on for s in panel.series] + [
        r.on for s in panel.series for r in s.readings
    ]
    ends = [s.due for s in panel.series] + [as_of]
    start, end = min(starts), max(ends)
    end = max(end, start + timedelta(days=30))
    values = [_clamp(panel.value)] + [r.value for s in panel.series for r in s.readings]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    ticks = nice_ticks(low - pad, high + pad)
    scale = Scale(
        start=start,
        end=end,
        low=ticks[0],
        high=ticks[-1],
        left=layout.margin_left,
        right=layout.width - layout.margin_right,
        top=top + MARGIN_TOP,
        bottom=top + layout.plot_height - MARGIN_BOTTOM,
    )
    return scale, ticks


def _line_view(
    series: Series, panel: IndicatorPanel, scale: Scale, colour: str, legend: tuple[float, float]
) -> dict[str, object]:
    """One series: its readings as points, its straight line from the baseline
    to the target at the due date (when it has a baseline), its legend entry."""
    base = series.baseline
    path = None
    if base is not None:
        indicator = Indicator(panel.comparator, _clamp(panel.value))
        at_due = expected_value(indicator, base, series.due, series.due)
        path = {
            "x1": scale.x(base.on),
            "y1": scale.y(base.value),
            "x2": scale.x(series.due),
            "y2": scale.y(at_due),
        }
    return {
        "colour": colour,
        "label": f"{series.department}({series.role_label})",
        "behind": series.behind,
        "lx": legend[0],
        "ly": legend[1],
        "points": [
            {"x": scale.x(r.on), "y": scale.y(r.value), "on": r.on, "value": r.value}
            for r in series.readings
        ],
        "path": path,
        "empty": not series.readings,
    }


def _panel_view(
    panel: IndicatorPanel, top: float, as_of: date, layout: Layout = WIDE
) -> dict[str, object]:
    scale, ticks = _panel_scale(panel, top, as_of, layout)
    if layout.legend_below:
        legend_x, legend_top = float(layout.margin_left), scale.bottom + 34
    else:
        legend_x, legend_top = float(layout.width - layout.margin_right + 16), scale.top + 8
    lines = [
        _line_view(series, panel, scale, PALETTE[index % len(PALETTE)],
                   (legend_x, legend_top + index * layout.legend_step))
        for index, series in enumerate(panel.series)
    ]
    sign = COMPARATOR_SIGNS.get(panel.comparator, "")
    return {
        "top": top,
        "title": _fit(f"{panel.indicator}(目标 {sign}{_fmt(panel.value)}{panel.unit})", layout),
        "full_title": f"{panel.indicator}(目标 {sign}{_fmt(panel.value)}{panel.unit})",
        "title_x": 8 if layout.legend_below else scale.left,
        "unit": panel.unit,
        "left": scale.left,
        "right": scale.right,
        "plot_top": scale.top,
        "plot_bottom": scale.bottom,
        "target_y": scale.y(_clamp(panel.value)),
        "target_label": f"目标 {_fmt(panel.value)}{panel.unit}",
        "as_of_x": scale.x(as_of) if scale.start <= as_of <= scale.end else None,
        "y_ticks": [{"y": scale.y(t), "label": _fmt(t)} for t in ticks],
        "x_ticks": [
            {"x": scale.x(d), "label": f"{d.year}-{d.month:02d}"}
            for d in _month_ticks(scale.start, scale.end, 4 if layout.legend_below else 8)
        ],
        "lines": lines,
        "legend_x": legend_x,
        # the straight-line entry, after the series (a little apart when wide)
        "path_ly": legend_top + len(lines) * layout.legend_step + (0 if layout.legend_below else 6),
    }


def _fit(text: str, layout: Layout) -> str:
    """``text`` cut with … to the narrow layout's line (13 px a character)."""
    room = (layout.width - 16) // 13
    if not layout.legend_below or len(text) <= room:
        return text
    return text[: room - 1] + "…"


def _clamp(value: float) -> float:
    """A target value the scale can take (a plan may hold anything)."""
    if not math.isfinite(value):
        return 0.0
    return max(-PLOT_BOUND, min(PLOT_BOUND, value))


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def trajectory_svg(
    title: str,
    panels: list[IndicatorPanel],
    *,
    as_of: date,
    templates_dir: Path = DEFAULT_TEMPLATES_DIR,
    layout: Layout = WIDE,
) -> str:
    """The SVG document (UTF-8 text) of the panels, stacked under ``title``;
    ``layout`` :data:`WIDE` (legend on the right) or :data:`NARROW` (a
    phone's width, the legend under each plot)."""
    header = 56 if layout.legend_below else 36
    views = []
    top = header
    for panel in panels:
        views.append(_panel_view(panel, top, as_of, layout))
        top += layout.panel_height(len(panel.series))
    return render_drawing(
        "reports/indicator_chart.svg",
        {
            "title": title,
            "as_of": as_of,
            "width": layout.width,
            "height": top,
            "panels": views,
            # the day: right of the title when wide, on its own line when narrow
            "as_of_at": (
                (16, 44, "start") if layout.legend_below else (layout.width - 16, 24, "end")
            ),
        },
        templates_dir=templates_dir,
    )


def indicator_chart(
    session_factory: sessionmaker[Session],
    *,
    measure: int,
    as_of: date,
    plan: str | int | None = None,
    templates_dir: Path = DEFAULT_TEMPLATES_DIR,
) -> str:
    """The SVG chart of measure ``measure``'s numeric targets as of ``as_of``
    (errors as :func:`measure_trajectories`)."""
    title, panels = measure_trajectories(session_factory, measure=measure, as_of=as_of, plan=plan)
    return trajectory_svg(
        f"措施{measure} {title}", panels, as_of=as_of, templates_dir=templates_dir
    )
