"""The supervisors' dashboard (督查室); coordinators may read it too.

- ``/dashboard``: every measure with its light, lead, deadlines and progress,
  filtered by section, department and light, with the light counts;
- ``/dashboard/escalations``: the escalation log, newest first, filtered by
  level, department, dates and delivered or not;
- ``/dashboard/scorecard``: the department scorecard, sortable by any column;
- ``/dashboard/ledger.xlsx``: the ledger (台账) workbook as of today, for download.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from markupsafe import Markup
from starlette.background import BackgroundTask

from duban.domain.errors import NotFoundError
from duban.domain.labels import NOTICE_STATUS_LABELS, TASK_ROLE_LABELS
from duban.domain.scorecard import Period, ScoreWeights
from duban.domain.status import Light
from duban.services.calendar.status import next_year_warning
from duban.services.desk.review import FailedDelivery, blocked_deliveries
from duban.services.paging import PAGE_SIZE, page_offset
from duban.services.reports.charts import NARROW, WIDE, trajectory_svg
from duban.services.reports.choices import (
    QUERY_MAX,
    filter_choices,
    measure_matches,
    parse_measure_query,
)
from duban.services.reports.dashboard import SCORE_COLUMNS, scorecard_page
from duban.services.reports.escalation_log import (
    NOTICE_STATUS_FILTERS,
    escalation_entry,
    escalation_page,
)
from duban.services.reports.ledger import stream_ledger
from duban.services.reports.ledger_files import ledger_file_name, write_streamed_ledger_xlsx
from duban.services.reports.ledger_tally import ScoreTally
from duban.services.reports.measure_page import SHOW_FILTERS, measure_detail
from duban.services.reports.overview import measure_overview
from duban.services.reports.scorecard import (
    counted_scorecard,
    load_weights,
    weights_description,
)
from duban.services.reports.summary_charts import ChartTasks, departments_svg, ledger_charts
from duban.services.reports.unit_page import UNIT_FILTERS, unit_detail
from duban.web.auth import Staff
from duban.web.state import WebState, page_number, parse_day, render, state_of

router = APIRouter(include_in_schema=False)


def score_weights(web: WebState) -> ScoreWeights:
    """The configured 考核 weights (DUBAN_SCORE_WEIGHTS_FILE), else the defaults."""
    path = web.context.settings.score_weights_file
    return load_weights(path) if path is not None else ScoreWeights()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@router.get("/dashboard")
def measures(
    request: Request,
    user: Staff,
    section: str | None = None,
    department: str | None = None,
    light: str | None = None,
    plan: str | None = None,
    page: str | None = None,
) -> Response:
    """The plan's measures, 50 a page, with their lights and progress; the
    light counts and charts cover every measure that matches."""
    web = state_of(request)
    chosen = Light(light) if light in {x.value for x in Light} else None
    try:
        overview = measure_overview(
            web.context.session_factory,
            as_of=web.today(),
            calendar=web.context.calendar,
            plan=plan or None,
            section=_int(section),
            department=department or None,
            light=chosen,
            zone=web.zone,
            offset=page_offset(page_number(page)),
            limit=PAGE_SIZE,
            charts=True,
        )
    except NotFoundError:
        return render(request, "dashboard/empty.html", message=_no_plan_message(plan))
    charts = ledger_charts(
        ChartTasks(overview.as_of, overview.chart_rows, overview.department_order),
        measures_link=f"/dashboard?plan={quote(overview.plan_key)}",
        department=department or None,
        trend=overview.trend,
        department_rows=overview.department_rows,
    )
    return render(
        request,
        "dashboard/measures.html",
        calendar_warning=next_year_warning(
            web.context.session_factory, calendar=web.context.calendar, today=web.today()
        ),
        overview=overview,
        charts={name: Markup(svg) for name, svg in charts.items()},
        blocked=_blocked(web),
        is_coordinator=user.role == "coordinator",
        filters={"section": _int(section), "department": department or "", "light": light or ""},
    )


def _no_plan_message(plan: str | None) -> str:
    """Why there are no measures to show: the chosen plan is unknown, or none is imported."""
    if plan:
        return "找不到所选的工作方案,请从看板重新选择。"
    return "还没有工作方案。督办科在“方案与交办”上传方案、审核导入并交办后,这里显示各项措施。"


def _blocked(web: WebState) -> list[FailedDelivery]:
    """The deliveries stuck longer than the settings allow (the dashboard's warning)."""
    with web.context.session_factory() as session:
        return blocked_deliveries(
            session,
            now=web.clock.now(),
            calendar=web.context.calendar,
            zone=web.zone,
            after_workdays=web.context.settings.delivery_blocked_workdays,
        )


@router.get("/dashboard/measures/{measure_id}")
def measure_page(
    request: Request, user: Staff, measure_id: int, show: str | None = None
) -> Response:
    """One measure: each responsible unit's task, its light and why, progress,
    indicator values and chart, escalations and extensions."""
    web = state_of(request)
    try:
        detail = measure_detail(
            web.context.session_factory,
            measure_id,
            as_of=web.today(),
            calendar=web.context.calendar,
            show=show,
            zone=web.zone,
        )
    except NotFoundError as err:
        return render(request, "dashboard/empty.html", status_code=404, message=str(err))
    charts = {}
    if detail.panels:
        for name, layout in (("wide", WIDE), ("narrow", NARROW)):
            svg = trajectory_svg(f"措施{detail.number} {detail.title}", detail.panels,
                                 as_of=detail.as_of, layout=layout)
            # our own autoescaped template, inline without its XML declaration
            charts[name] = Markup(svg.split("?>", 1)[-1])
    return render(request, "dashboard/measure.html", m=detail, charts=charts,
                  show_filters=SHOW_FILTERS)


@router.get("/dashboard/units")
def unit_page(
    request: Request, user: Staff, name: str = "", show: str | None = None,
    page: str | None = None,
) -> Response:
    """One unit's tasks of every plan, 50 a page, each scorecard count a
    filter of exactly that many tasks, with its charts."""
    web = state_of(request)
    weights = score_weights(web)
    try:
        detail = unit_detail(
            web.context.session_factory,
            name.strip(),
            as_of=web.today(),
            calendar=web.context.calendar,
            weights=weights,
            show=show,
            zone=web.zone,
            offset=page_offset(page_number(page)),
            limit=PAGE_SIZE,
        )
    except NotFoundError as err:
        return render(request, "dashboard/empty.html", status_code=404, message=str(err))
    charts = ledger_charts(detail.chart, department=detail.name, trend=detail.trend)
    return render(
        request,
        "dashboard/unit.html",
        u=detail,
        filters=UNIT_FILTERS,
        roles="、".join(TASK_ROLE_LABELS[r] for r in weights.task_roles),
        charts={key: Markup(svg) for key, svg in charts.items()},
    )


@router.get("/dashboard/escalations")
def escalations(
    request: Request,
    user: Staff,
    level: str | None = None,
    department: str | None = None,
    measure: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
    page: str | None = None,
) -> Response:
    """The escalation log, 50 a page, filtered by level, department, measure
    (typed: a number or words of its title), dates and status."""
    web = state_of(request)
    chosen_level = _int(level)
    asked = parse_measure_query(measure)
    found = escalation_page(
        web.context.session_factory,
        zone=web.zone,
        since=parse_day(since),
        until=parse_day(until),
        department=department or None,
        level=chosen_level if chosen_level in (0, 1, 2, 3) else None,
        measure=asked,
        status=status if status in NOTICE_STATUS_FILTERS else None,
        offset=page_offset(page_number(page)),
    )
    choices = filter_choices(web.context.session_factory)
    return render(
        request,
        "dashboard/escalations.html",
        page=found,
        departments=choices.departments,
        measures=choices.measures,
        matched=measure_matches(web.context.session_factory, asked) if asked else None,
        statuses=[(key, NOTICE_STATUS_LABELS[key]) for key in NOTICE_STATUS_FILTERS],
        filters={
            "level": "" if chosen_level is None else str(chosen_level),
            "department": department or "",
            "measure": (measure or "").strip()[:QUERY_MAX],
            "since": since or "",
            "until": until or "",
            "status": status or "",
        },
    )


@router.get("/dashboard/escalations/{notice_id}")
def escalation_detail(request: Request, user: Staff, notice_id: int) -> Response:
    """One step of the ladder: what, why, to whom (the address in its privacy
    form), delivered or not."""
    web = state_of(request)
    entry = escalation_entry(web.context.session_factory, notice_id, zone=web.zone)
    if entry is None:
        return render(request, "dashboard/empty.html", status_code=404,
                      message="找不到这条督办记录")
    return render(request, "dashboard/escalation.html", e=entry)


@router.get("/dashboard/scorecard")
def score(request: Request, user: Staff, sort: str = "score", order: str = "desc") -> Response:
    web = state_of(request)
    weights = score_weights(web)
    page = scorecard_page(
        web.context.session_factory,
        as_of=web.today(),
        calendar=web.context.calendar,
        weights=weights,
        sort=sort,
        descending=order != "asc",
        zone=web.zone,
    )
    rows = page.rows
    chart = Markup(departments_svg(page.chart))
    return render(
        request,
        "dashboard/scorecard.html",
        rows=rows,
        columns=SCORE_COLUMNS,
        rules=weights_description(weights),
        chart=chart,
        scored=sum(1 for r in rows if r.score is not None),
        sort=sort,
        order="asc" if order == "asc" else "desc",
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/dashboard/ledger.xlsx")
def ledger_download(request: Request, user: Staff, plan: str | None = None) -> Response:
    """The ledger workbook of ``plan`` (default: every plan) as of the server's
    today, with its 考核 sheet, under a Chinese file name."""
    web = state_of(request)
    weights = score_weights(web)
    # The 考核 sheet counted in SQL (the day's kept cells for every plan), as
    # the scorecard page counts it, but storing none (a download only reads:
    # before the day's round stored them, stale cells are worked out or
    # counted in grouped SQL, not stored by a thread competing with the
    # rows); row by row as the sheet is written where SQL cannot tell local days.
    card = counted_scorecard(
        web.context.session_factory, as_of=web.today(), calendar=web.context.calendar,
        plan=plan or None, all_plans=not plan, weights=weights, zone=web.zone, store=False,
    )
    # The workbook is written to a file and sent from it in chunks, not held in
    # memory as bytes (15 MB at 100k tasks); its folder goes once it is sent
    # (or, should the client leave early, when the folder object is collected).
    folder = tempfile.TemporaryDirectory(prefix="duban-ledger-")
    path = Path(folder.name) / "ledger.xlsx"
    try:
        with web.context.session_factory() as session:
            stream = stream_ledger(
                session,
                as_of=web.today(),
                calendar=web.context.calendar,
                plan=plan or None,
                all_plans=not plan,
                zone=web.zone,
            )
            ledger = stream.ledger
            write_streamed_ledger_xlsx(
                stream,
                path,
                scorecard=card,
                scoring=None if card is not None else ScoreTally(
                    ledger.as_of, Period(), web.context.calendar, weights=weights
                ),
                base_url=web.context.settings.base_url or str(request.base_url),
            )
        size = path.stat().st_size
    except BaseException:
        folder.cleanup()
        raise
    filename = ledger_file_name(ledger)
    fallback = f"ledger-{web.today().isoformat()}.xlsx"  # for clients without RFC 5987
    return StreamingResponse(
        _chunks(path),
        media_type=XLSX,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; "
            f"filename*=UTF-8''{quote(filename)}",
        },
        background=BackgroundTask(folder.cleanup),
    )


CHUNK = 256 * 1024


def _chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes, a chunk at a time."""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk
