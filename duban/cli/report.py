"""``duban report ledger|scorecard|ics|chart`` and ``duban digest``.

Thin commands over duban.services (ledger, scorecard, ics, charts, digest).
Every command takes ``--as-of`` (a date, meaning 09:00 that day, or a
datetime in the organisation's time zone; default now): the day statuses
are computed for.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from duban.cli.app import app
from duban.cli.options import CommandEnv, as_of_option, command_env
from duban.cli.table import render_table, truncate
from duban.config import apply_prefect_defaults
from duban.domain.errors import DubanError
from duban.domain.scorecard import ScoreWeights, parse_period
from duban.domain.status import LIGHT_LABELS, Light
from duban.services.accounts.org import org_settings
from duban.services.reports.charts import indicator_chart
from duban.services.reports.ics import DEFAULT_DAYS, MAX_DAYS, department_ics
from duban.services.reports.ledger import LedgerStream, stream_ledger
from duban.services.reports.ledger_files import (
    write_streamed_ledger_csv,
    write_streamed_ledger_xlsx,
)
from duban.services.reports.ledger_tally import ScoreTally
from duban.services.reports.scorecard import (
    COUNT_COLUMNS,
    NO_SCORE,
    build_scorecard,
    load_weights,
    weights_description,
)

report_app = typer.Typer(
    help="报表:台账(Excel/CSV)、考核、日历订阅(iCalendar)、指标进度图。", no_args_is_help=True
)
app.add_typer(report_app, name="report")

AsOf = Annotated[
    datetime | None,
    as_of_option("统计日期(YYYY-MM-DD 或 YYYY-MM-DDTHH:MM,机构时区;默认现在)"),
]
PlanOpt = Annotated[str | None, typer.Option("--plan", help="方案文号、标题或编号(默认:全部方案)")]
AsJson = Annotated[bool, typer.Option("--json", help="输出 JSON,供程序读取")]


def _env(as_of: datetime | None) -> CommandEnv:
    """The command's moment, checked to lie in a year the calendar covers
    (CalendarError if not)."""
    env = command_env(as_of)
    env.calendar.is_workday(env.today)
    return env


def _writable(path: Path, option: str) -> Path:
    if path.parent and not path.parent.exists():
        raise DubanError(f"{option} 的目录不存在:{path.parent}")
    return path


@report_app.command("ledger")
def ledger_command(
    out: Annotated[Path, typer.Option("--out", help="台账 Excel 文件(.xlsx)")],
    csv_out: Annotated[Path | None, typer.Option("--csv", help="另存一份 CSV")] = None,
    as_of: AsOf = None,
    plan: PlanOpt = None,
) -> None:
    """台账:每项任务一行(状态、灯色、进展、延期、督办记录),另附汇总、考核与说明。"""
    if out.suffix.lower() != ".xlsx":
        raise DubanError(f"--out 应为 .xlsx 文件,而不是“{out.name}”")
    _writable(out, "--out")
    if csv_out is not None:
        _writable(csv_out, "--csv")
    env = _env(as_of)
    calendar = env.context.calendar
    weights_file = env.context.settings.score_weights_file
    scoring = ScoreTally(
        env.today, parse_period(None), calendar,
        weights=load_weights(weights_file) if weights_file else ScoreWeights(),
    )
    with env.context.session_factory() as session:

        def stream() -> LedgerStream:
            """The ledger read as it is written (memory flat in the tasks)."""
            return stream_ledger(session, as_of=env.today, calendar=calendar, plan=plan,
                                 all_plans=plan is None, zone=env.zone)

        tally = write_streamed_ledger_xlsx(stream(), out, scoring=scoring)
        typer.echo(
            f"台账已写入 {out}:截至 {env.today},{tally.rows} 项任务("
            + "、".join(f"{LIGHT_LABELS[light]} {tally.lights[light]}" for light in Light)
            + ")"
        )
        if csv_out is not None:
            write_streamed_ledger_csv(stream(), csv_out)
            typer.echo(f"CSV 已写入 {csv_out}")


@report_app.command("scorecard")
def scorecard_command(
    period: Annotated[
        str | None,
        typer.Option("--period", help="考核期间:起..止、YYYY、YYYY-Qn 或 YYYY-MM(默认:全部)"),
    ] = None,
    as_of: AsOf = None,
    plan: PlanOpt = None,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="计分权重 YAML 文件(默认权重见 README)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """考核:各单位到期任务按期、延期后、逾期办结及仍逾期数,进度报送与督办次数,得分。"""
    span = parse_period(period)
    env = _env(as_of)
    weights = weights or env.context.settings.score_weights_file
    chosen = load_weights(weights) if weights is not None else None
    card = build_scorecard(
        env.context.session_factory,
        as_of=env.today,
        calendar=env.context.calendar,
        period=span,
        plan=plan,
        all_plans=plan is None,
        weights=chosen,
        zone=env.zone,
    )
    if as_json:
        typer.echo(json.dumps(card.to_dict(), ensure_ascii=False, indent=2))
        return
    headers = [
        "排名",
        "单位",
        "得分",
        *(label for _a, label in COUNT_COLUMNS),
        "催办",
        "黄督",
        "红督",
    ]
    rows = [
        [
            "—" if row.rank is None else str(row.rank),
            truncate(row.department, 20),
            NO_SCORE if row.score is None else f"{row.score:.1f}",
            *(str(getattr(row.counts, attr)) for attr, _label in COUNT_COLUMNS),
            *(str(row.counts.escalations[level]) for level in (1, 2, 3)),
        ]
        for row in card.rows
    ]
    typer.echo(f"考核期间:{span.label}(统计至 {env.today})")
    typer.echo(render_table(headers, rows))
    for line in weights_description(card.weights):
        typer.echo(line)


@report_app.command("ics")
def ics_command(
    department: Annotated[str, typer.Option("--department", "-d", help="单位(全称或简称)")],
    out: Annotated[Path | None, typer.Option("--out", help="写入文件(默认输出到屏幕)")] = None,
    as_of: AsOf = None,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="全部任务与日期(默认:未办结任务近一月至今后 --days 天的日期,及逾期未办结任务)",
        ),
    ] = False,
    days: Annotated[
        int, typer.Option("--days", min=1, max=MAX_DAYS, help="包含今后多少天的日期")
    ] = DEFAULT_DAYS,
) -> None:
    """日历订阅:单位未办结任务的完成时限与进度报送截止日(iCalendar .ics)。"""
    if out is not None:
        _writable(out, "--out")
    env = _env(as_of)
    with env.context.session_factory() as session:
        base_url = org_settings(session).base_url or env.context.settings.base_url
    text = department_ics(
        env.context.session_factory,
        department=department,
        now=env.now,
        calendar=env.context.calendar,
        base_url=base_url,
        zone=env.zone,
        everything=everything,
        days=days,
    )
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"日历已写入 {out}:{text.count('BEGIN:VEVENT')} 个日程")


@report_app.command("chart")
def chart_command(
    measure: Annotated[int, typer.Option("--measure", help="措施序号")],
    out: Annotated[Path, typer.Option("--out", help="SVG 文件")],
    plan: Annotated[str | None, typer.Option("--plan", help="方案文号、标题或编号")] = None,
    as_of: AsOf = None,
) -> None:
    """指标进度图:量化指标的报送值与从基数到目标的直线进度(SVG)。"""
    if out.suffix.lower() != ".svg":
        raise DubanError(f"--out 应为 .svg 文件,而不是“{out.name}”")
    _writable(out, "--out")
    env = _env(as_of)
    svg = indicator_chart(
        env.context.session_factory,
        measure=measure,
        as_of=env.today,
        plan=plan,
        templates_dir=env.context.settings.templates_dir,
    )
    out.write_text(svg, encoding="utf-8")
    typer.echo(f"指标进度图已写入 {out}")


@app.command("digest")
def digest_command(
    as_of: AsOf = None,
    as_json: AsJson = False,
) -> None:
    """每周简报:向督查室、督办科发送红黄灯措施、新增督办、缺报单位并附台账;
    向各单位联络员发送其未办结任务清单(经发件箱发送,每周每人一次;Prefect 流程)。"""
    env = _env(as_of)
    env.context.session_factory  # noqa: B018  the schema check, before Prefect starts
    apply_prefect_defaults()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.digest import weekly_digest_flow

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = weekly_digest_flow(as_of=env.clock.local(env.now))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    queued, delivery = result.queued, result.round.delivery
    typer.echo(
        f"{queued.week.isoformat()} 当周简报:新排队 督查督办 {queued.digests} 份、单位 "
        f"{queued.summaries} 份(本周此前已有 {queued.existing} 份);发送 "
        f"{delivery.sent} 份,待重试 {delivery.failed} 份,失败 {delivery.dead} 份。"
    )
