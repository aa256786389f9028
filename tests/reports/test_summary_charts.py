"""The summary charts of a ledger: the numbers drawn, and drawings that parse
as SVG with every label in words (the small world of tests/reports/conftest.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker

from duban.services.reports.ledger import build_ledger
from duban.services.reports.summary_charts import (
    PROGRESS,
    Bar,
    Segment,
    bars_svg,
    completion_by_department,
    ledger_charts,
    lights_by_section,
    overdue_trend,
)
from tests.db.conftest import CIVIL, HEALTH, HR, XIANGZHOU
from tests.reports.conftest import History

SVG = "{http://www.w3.org/2000/svg}"


def test_charts_count_lights_completion_and_overdue_weeks(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    ledger = build_ledger(session_factory, as_of=date(2016, 1, 29), calendar=history.calendar)
    [section] = lights_by_section(ledger, link="/dashboard?section=")
    counts = {s.label: s.value for s in section.segments}
    # lead and single done on time; support done late; district overdue; later behind.
    assert counts == {"红灯": 1, "黄灯": 1, "蓝灯": 0, "逾期办结": 1, "绿灯": 2}
    bars = completion_by_department(ledger, order=ledger.department_order, link="?d=")
    assert [b.label for b in bars] == sorted(
        [HEALTH, HR, CIVIL, XIANGZHOU], key=ledger.department_key)
    health = next(b for b in bars if b.label == HEALTH)
    assert {s.label: s.value for s in health.segments} == {
        "已办结": 1, "待审核": 0, "在办": 1, "逾期": 0}
    assert health.note == "办结率 50%" and health.link == "?d=" + quote(HEALTH)
    # 香洲区 (due 12-17, nothing submitted) is overdue from 12-18; 市民政局 (submitted
    # 12-24) only on the weekly day 12-18; 市人社局's due moved to 01-15 (submitted 01-12).
    trend = dict(overdue_trend(ledger, weeks=8))
    assert trend[date(2015, 12, 11)] == 0
    assert trend[date(2015, 12, 18)] == 2
    assert trend[date(2016, 1, 29)] == 1
    charts = ledger_charts(ledger, measures_link="/dashboard?plan=p")
    for name, svg in charts.items():
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg", name
        assert root.get("viewBox", "").startswith("0 0 360 "), name
    assert "&amp;department=" in charts["departments"] and "逾期" in charts["trend"]
    only = ledger_charts(ledger, department=XIANGZHOU)
    assert set(only) == {"sections", "trend"} and "红灯1" in only["sections"]


def test_the_trajectory_chart_drawn_for_a_phone_keeps_every_label_inside(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    from duban.services.reports.charts import NARROW, WIDE, trajectory_svg
    from duban.services.reports.trajectories import measure_trajectories

    title, panels = measure_trajectories(session_factory, measure=8, as_of=date(2016, 1, 29))
    wide = ET.fromstring(trajectory_svg(title, panels, as_of=date(2016, 1, 29)))
    narrow = ET.fromstring(trajectory_svg(title, panels, as_of=date(2016, 1, 29), layout=NARROW))
    assert wide.get("width") == str(WIDE.width) and narrow.get("width") == "360"
    for root, width in ((wide, WIDE.width), (narrow, 360)):
        xs = [float(t.get("x", 0)) for t in root.iter(f"{SVG}text")]
        assert xs and max(xs) <= width  # nothing starts outside the drawing
    # On the phone each series' legend sits under its plot, not beside it.
    legends = [t for t in narrow.iter(f"{SVG}text") if "(牵头)" in "".join(t.itertext())]
    assert legends and all(float(t.get("x", 0)) < 100 for t in legends)


GOLDEN = Path(__file__).parent / "golden"


def _golden_bars() -> dict[str, str]:
    """Bar charts of every kind of bar: linked, with a long name and markup in
    it, empty, with a note; the default and a wrapped legend; no bars."""
    def seg(*values: int) -> tuple[Segment, ...]:
        return tuple(Segment(label, value, colour)
                     for (_key, label, colour), value in zip(PROGRESS, values, strict=True))

    bars = [
        Bar("市卫生健康委员会", seg(12, 3, 40, 7), "?department=%E5%B8%82", "办结率 19%"),
        Bar("一个名字很长很长很长很长很长很长很长很长很长很长很长很长的单位<&>\"'",
            seg(0, 0, 0, 5), None, ""),
        Bar("无任务单位", seg(0, 0, 0, 0), "/x?a=1&b=<2>", "办结率 0%"),
        Bar("半", seg(1, 1, 1, 1), None, "注"),
    ]
    legend = [(label, colour) for _key, label, colour in PROGRESS]
    return {
        "bars": bars_svg("各单位办结与逾期", bars, legend=legend),
        "default_legend": bars_svg("标题 <b>&</b>", bars[:2]),
        "empty": bars_svg("空", []),
        "wrapped_legend": bars_svg("图例换行", bars[2:], legend=legend * 3),
    }


def test_bar_charts_are_drawn_byte_for_byte_as_before() -> None:
    """The drawings of tests/reports/golden are unchanged to the byte: a
    change that means to keep the drawing (the bar layout, the template) is
    held to it; one that means to change it writes the files again."""
    for name, drawn in _golden_bars().items():
        assert drawn == (GOLDEN / f"bar_chart_{name}.svg").read_text(encoding="utf-8"), name
