"""How ``duban tasks`` and ``duban task …`` print tasks and results (Chinese text)."""

from __future__ import annotations

from datetime import date

from duban.cli.table import render_table, truncate
from duban.domain.directory import COLLECTIVES, normalize_name
from duban.domain.labels import COMPARATOR_SIGNS
from duban.domain.lifecycle import ACTION_LABELS, STATE_LABELS, TaskState
from duban.domain.status import LIGHT_LABELS, Light
from duban.services.tasks.transitions import ActionResult
from duban.services.tasks.views import TaskDetail, TaskView

LIGHT_MARKS = {
    Light.RED: "●红",
    Light.YELLOW: "●黄",
    Light.BLUE: "●蓝",
    Light.LATE: "●逾期办结",
    Light.GREEN: "●绿",
}


def render_result(result: ActionResult) -> str:
    """One line saying what an action did."""
    label = ACTION_LABELS[result.action]
    states = (
        f"{STATE_LABELS[result.from_state]} → {STATE_LABELS[result.to_state]}"
        if result.from_state is not result.to_state
        else STATE_LABELS[result.to_state]
    )
    line = f"{label}成功:任务 #{result.task_id}({states}),办理记录 #{result.event_id}"
    if result.values:
        line += ";指标:" + "、".join(f"{k} {_number(v)}" for k, v in result.values.items())
    return line + "。"


def department_cell(view: TaskView) -> str:
    """The department as the table shows it: the plan's name, with the district
    for a collective (各区 → 香洲区(各区))."""
    collectives = {normalize_name(c) for c in COLLECTIVES}
    if normalize_name(view.named_as) in collectives:
        return f"{view.department}({view.named_as})"
    return view.named_as


def _due_cell(due: date, original_due: date) -> str:
    if due != original_due:
        return f"{due.isoformat()}(原{original_due.isoformat()})"
    return due.isoformat()


def render_task_list(views: list[TaskView], as_of: date) -> str:
    """The ledger table with a count per light."""
    if not views:
        return f"截至 {as_of.isoformat()},没有符合条件的任务。"
    counts = {light: sum(1 for v in views if v.light is light) for light in Light}
    head = (
        f"截至 {as_of.isoformat()}:共 {len(views)} 项任务,"
        + "、".join(f"{LIGHT_LABELS[light]} {counts[light]}" for light in Light)
    )
    rows = [
        [
            str(v.id),
            str(v.measure),
            truncate(department_cell(v), 24),
            v.role_label,
            _due_cell(v.due, v.original_due),
            v.state_label,
            v.status_label,
            LIGHT_MARKS[v.light],
            truncate(";".join(v.reasons), 30),
        ]
        for v in views
    ]
    table = render_table(
        ["编号", "措施", "单位", "角色", "期限", "办理", "状态", "灯", "说明"], rows
    )
    return f"{head}\n\n{table}"


def _number(value: float) -> str:
    return f"{value:g}"


def render_task_detail(detail: TaskDetail) -> str:
    """Everything about one task, in Chinese."""
    return "\n".join(_summary(detail) + _measure_lines(detail) + _history(detail))


def _summary(detail: TaskDetail) -> list[str]:
    """Who, what, until when, and how it stands."""
    out = [
        f"任务 #{detail.id}  第{detail.measure}项 {detail.measure_title}",
        f"方案:《{detail.plan_title}》({detail.plan})",
    ]
    named = "" if detail.named_as == detail.department else f"(方案写作:{detail.named_as})"
    out.append(f"单位:{detail.department}{named}  角色:{detail.role_label}")
    due = f"期限:{detail.due.isoformat()}"
    if detail.due != detail.original_due:
        due += f"(原期限 {detail.original_due.isoformat()})"
    if detail.deadline != detail.due:
        due += f";方案时限 {detail.deadline.isoformat()}"
    out.append(due)
    status = (
        f"状态(截至 {detail.as_of.isoformat()}):{detail.state_label} · "
        f"{detail.status_label} · {LIGHT_MARKS[detail.light]}灯"
    )
    if detail.reasons:
        status += "(" + ";".join(detail.reasons) + ")"
    out.append(status)
    return out


def _measure_lines(detail: TaskDetail) -> list[str]:
    """The measure's text, numeric targets and the other departments on it."""
    out = [f"措施内容:{detail.measure_text}"]
    if detail.numeric_targets:
        out.append("数值指标:")
        for t in detail.numeric_targets:
            sign = COMPARATOR_SIGNS.get(t.comparator or "", t.comparator or "")
            out.append(f"  {t.name} {sign} {_number(t.value)}{t.unit or ''}")
    if detail.others:
        out.append("同一措施的其他单位:")
        for o in detail.others:
            name = o.department if o.named_as == o.department else f"{o.department}({o.named_as})"
            out.append(
                f"  #{o.id} {name} {o.role_label} 期限 {o.due.isoformat()} {o.state_label}"
            )
    return out


def _history(detail: TaskDetail) -> list[str]:
    """Events, extension requests, readings and missing progress reports."""
    out = ["办理记录:"]
    if not detail.events:
        out.append("  (无)")
    for e in detail.events:
        who = e.actor if e.actor == e.actor_role_label else f"{e.actor_role_label} {e.actor}"
        line = f"  {e.at_local:%Y-%m-%d %H:%M} {e.action_label} {who}"
        if e.from_state != e.to_state and e.from_state and e.to_state:
            line += f"({_state(e.from_state)} → {_state(e.to_state)})"
        if e.note:
            line += f":{e.note}"
        out.append(line)
    if detail.extensions:
        out.append("延期申请:")
        for x in detail.extensions:
            line = (
                f"  #{x.id} 申请由 {x.current_due.isoformat()} 延至 {x.new_due.isoformat()},"
                f"理由:{x.reason};{x.status_label}"
            )
            if x.decided_by:
                line += f"({x.decided_by}"
                line += f":{x.decision_note})" if x.decision_note else ")"
            out.append(line)
    if detail.readings:
        out.append("指标报送:")
        for r in detail.readings:
            value = f"{_number(r.value)}{r.unit or ''}"
            out.append(f"  {r.reported_on.isoformat()} {r.indicator} {value}")
    if detail.missing_reports:
        missing = "、".join(
            f"截至{p.period_end.isoformat()}(应于{p.deadline_text}前报送)"
            for p in detail.missing_reports
        )
        out.append(f"缺报进度:{missing}")
    return out


def _state(value: str) -> str:
    try:
        return STATE_LABELS[TaskState(value)]
    except ValueError:
        return value
