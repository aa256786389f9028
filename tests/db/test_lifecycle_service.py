"""Lifecycle actions and task queries on SQLite and PostgreSQL.

Every refusal is checked to change nothing: all rows of tasks, events,
extension requests and readings are compared before and after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError, NotFoundError
from duban.domain.lifecycle import Action, TaskState, TransitionError
from duban.domain.status import Light, StatusPolicy, TaskStatus
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar
from duban.services.tasks import extensions
from duban.services.tasks import lifecycle as lc
from duban.services.tasks.detail import get_task
from duban.services.tasks.queries import list_tasks, measure_lights
from duban.services.tasks.transitions import ConcurrentChangeError
from models import Department, ExtensionRequest, IndicatorReading, Task, TaskEvent
from tests.db.conftest import (
    BEDS,
    CIVIL,
    DEADLINE,
    DOCTORS,
    HEALTH,
    REIMBURSEMENT,
    SUPPORT_DUE,
    World,
    at,
    snapshot,
)

SF = sessionmaker[Session]


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return build_work_calendar([])


def task_row(session_factory: SF, task_id: int) -> Task:
    with session_factory() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task


def events_of(session_factory: SF, task_id: int) -> list[TaskEvent]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
            )
        )


def ack(sf: SF, task_id: int, day: str = "2015-03-03", department: str = "市卫计局") -> None:
    lc.acknowledge(task_id, department=department, now=at(day), session_factory=sf)


def submit(sf: SF, task_id: int, day: str, department: str = "市卫计局") -> None:
    lc.submit(task_id, department=department, note="已完成,附报销比例统计表",
              now=at(day), session_factory=sf)


def refused(sf: SF, call: Callable[[], object], match: str,
            error: type[DubanError] = TransitionError) -> DubanError:
    """Run ``call``, expect ``error`` containing ``match`` and no change to any row."""
    before = snapshot(sf)
    with pytest.raises(error, match=re.escape(match)) as info:
        call()
    assert snapshot(sf) == before
    return info.value


# --- the happy path ------------------------------------------------------------


def test_happy_path_records_every_step_with_its_actor(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf, tid = session_factory, world.lead
    result = lc.acknowledge(tid, department="市卫计局", actor="张三", now=at("2015-03-03"),
                            session_factory=sf)
    assert (result.from_state, result.to_state, result.version) == (
        TaskState.ASSIGNED, TaskState.ACKNOWLEDGED, 2)
    result = lc.report(tid, department="珠海市卫生和计划生育局", note="一季度完成摸底",
                       values={REIMBURSEMENT: "70", BEDS: 26}, now=at("2015-04-03"),
                       session_factory=sf)
    assert result.values == {REIMBURSEMENT: 70.0, BEDS: 26.0}
    lc.submit(tid, department="市卫计局", note="报销比例达76%,附统计表", now=at("2015-12-28"),
              session_factory=sf)
    result = lc.approve(tid, actor="李四", note="材料齐全", now=at("2015-12-30", 15),
                        session_factory=sf)
    assert result.to_state is TaskState.APPROVED and result.version == 5

    task = task_row(sf, tid)
    assert task.state == "approved" and task.version == 5
    assert task.acknowledged_at == at("2015-03-03")
    assert task.submitted_at == at("2015-12-28")
    assert task.approved_at == at("2015-12-30", 15)
    log = [
        (e.action, e.actor_role, e.actor, e.from_state, e.to_state, e.note, e.at)
        for e in events_of(sf, tid)
    ]
    assert log == [
        ("assign", "system", "系统", None, "assigned", None, at("2015-03-02")),
        ("acknowledge", "department", f"{HEALTH}(张三)", "assigned", "acknowledged", None,
         at("2015-03-03")),
        ("report", "department", HEALTH, "acknowledged", "in_progress", "一季度完成摸底",
         at("2015-04-03")),
        ("submit", "department", HEALTH, "in_progress", "submitted", "报销比例达76%,附统计表",
         at("2015-12-28")),
        ("approve", "coordinator", "李四", "submitted", "approved", "材料齐全",
         at("2015-12-30", 15)),
    ]
    assert events_of(sf, tid)[2].data == {
        "department": HEALTH, "values": {REIMBURSEMENT: 70.0, BEDS: 26.0}}

    detail = get_task(sf, task_id=tid, as_of=date(2016, 1, 4), calendar=cal)
    assert (detail.status, detail.light) == (TaskStatus.DONE_ON_TIME, Light.GREEN)
    assert [e.action_label for e in detail.events] == ["交办", "签收", "进度反馈", "报结", "办结"]
    assert [(r.indicator, r.value, r.reported_on) for r in detail.readings] == [
        (REIMBURSEMENT, 70.0, date(2015, 4, 3)), (BEDS, 26.0, date(2015, 4, 3))]
    assert {o.department for o in detail.others} == {CIVIL, "香洲区"}
    assert [t.name for t in detail.numeric_targets] == [REIMBURSEMENT, BEDS]
    assert detail.to_dict()["events"][1]["actor"] == f"{HEALTH}(张三)"


# --- refusals --------------------------------------------------------------------


def _in_state(sf: SF, tid: int, state: str) -> None:
    """Walk task ``tid`` (市卫计局's) to ``state`` through the service."""
    steps: dict[str, list[Callable[[], object]]] = {
        "assigned": [],
        "acknowledged": [lambda: ack(sf, tid)],
        "submitted": [lambda: ack(sf, tid), lambda: submit(sf, tid, "2015-06-01")],
        "approved": [
            lambda: ack(sf, tid),
            lambda: submit(sf, tid, "2015-06-01"),
            lambda: lc.approve(tid, actor="李四", now=at("2015-06-02"), session_factory=sf),
        ],
    }
    for step in steps[state]:
        step()


ILLEGAL: list[tuple[str, str, Callable[[SF, int], object], str]] = [
    ("acknowledged", "ack twice", lambda sf, t: ack(sf, t, "2015-03-04"), "不能签收"),
    ("assigned", "report before ack",
     lambda sf, t: lc.report(t, department="市卫计局", note="x", now=at("2015-03-05"),
                             session_factory=sf), "请先签收"),
    ("assigned", "submit before ack", lambda sf, t: submit(sf, t, "2015-03-05"), "请先签收"),
    ("acknowledged", "approve unsubmitted",
     lambda sf, t: lc.approve(t, actor="李四", now=at("2015-03-05"), session_factory=sf),
     "任务尚未报结"),
    ("acknowledged", "return unsubmitted",
     lambda sf, t: lc.return_(t, actor="李四", reason="不全", now=at("2015-03-05"),
                              session_factory=sf), "不能退回"),
    ("submitted", "return without reason",
     lambda sf, t: lc.return_(t, actor="李四", reason="  ", now=at("2015-06-03"),
                              session_factory=sf), "须填写理由"),
    ("submitted", "approve without actor",
     lambda sf, t: lc.approve(t, actor=" ", now=at("2015-06-03"), session_factory=sf),
     "须填写经办人"),
    ("acknowledged", "submit without note",
     lambda sf, t: lc.submit(t, department="市卫计局", note="", now=at("2015-06-03"),
                             session_factory=sf), "报结须填写"),
    ("acknowledged", "report without note",
     lambda sf, t: lc.report(t, department="市卫计局", note=" ", now=at("2015-06-03"),
                             session_factory=sf), "进度反馈须填写"),
    ("submitted", "report after submit",
     lambda sf, t: lc.report(t, department="市卫计局", note="x", now=at("2015-06-03"),
                             session_factory=sf), "不能进度反馈"),
    ("approved", "approve twice",
     lambda sf, t: lc.approve(t, actor="李四", now=at("2015-06-03"), session_factory=sf),
     "不能办结"),
    ("approved", "submit after approval", lambda sf, t: submit(sf, t, "2015-06-03"), "不能报结"),
    ("submitted", "extension while submitted",
     lambda sf, t: extensions.request_extension(
         t, department="市卫计局", new_due=date(2016, 3, 31), reason="汛期",
         now=at("2015-06-03"), calendar=build_work_calendar([]), session_factory=sf),
     "不能延期申请"),
    ("approved", "change due after approval",
     lambda sf, t: lc.change_due(
         t, actor="李四", new_due=date(2016, 3, 31), reason="调整", now=at("2015-06-03"),
         calendar=build_work_calendar([]), session_factory=sf),
     "不能调整期限"),
]


@pytest.mark.parametrize(("state", "case", "call", "match"), ILLEGAL, ids=[c[1] for c in ILLEGAL])
def test_illegal_transitions_are_refused_and_change_nothing(
    session_factory: SF, world: World, state: str, case: str,
    call: Callable[[SF, int], object], match: str,
) -> None:
    _in_state(session_factory, world.lead, state)
    err = refused(session_factory, lambda: call(session_factory, world.lead), match)
    assert f"任务 #{world.lead}" in str(err)


def test_a_department_cannot_act_on_another_departments_task(
    session_factory: SF, world: World
) -> None:
    err = refused(session_factory, lambda: ack(session_factory, world.lead, department="市民政局"),
                  "无权办理")
    assert str(err) == f"{CIVIL}无权办理{HEALTH}的任务 #{world.lead}"
    # a district acting on its own 各区 task is fine, on the lead's is not
    ack(session_factory, world.district, department="香洲区政府")
    refused(session_factory, lambda: submit(session_factory, world.lead, "2015-04-01", "香洲区"),
            "香洲区无权办理")


def test_unknown_task_department_and_extension_are_not_found(
    session_factory: SF, world: World
) -> None:
    refused(session_factory, lambda: ack(session_factory, 99999), "找不到任务 #99999",
            NotFoundError)
    refused(session_factory, lambda: ack(session_factory, world.lead, department="市外星局"),
            "机构目录中没有单位“市外星局”", NotFoundError)
    refused(session_factory,
            lambda: extensions.approve_extension(4242, actor="李四", now=at("2015-05-01"),
                                         session_factory=session_factory),
            "找不到延期申请 #4242", NotFoundError)


def test_naive_now_is_a_programming_error(session_factory: SF, world: World) -> None:
    with pytest.raises(ValueError, match="naive"):
        lc.acknowledge(world.lead, department="市卫计局", now=at("2015-03-03").replace(tzinfo=None),
                       session_factory=session_factory)


# --- concurrency -------------------------------------------------------------------


def test_a_stale_version_is_a_concurrent_change(session_factory: SF, world: World) -> None:
    ack(session_factory, world.lead)
    err = refused(
        session_factory,
        lambda: lc.submit(world.lead, department="市卫计局", note="完成", now=at("2015-06-01"),
                          session_factory=session_factory, expected_version=1),
        "已被他人修改", ConcurrentChangeError,
    )
    assert f"任务 #{world.lead}" in str(err)


@pytest.fixture
def race(engine: Engine) -> Iterator[Callable[[int], None]]:
    """Arm a one-shot hook: just before the next UPDATE of tasks, another
    connection bumps the task's version and commits (a concurrent writer)."""
    armed: dict[str, int] = {}

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "task_id" in armed and statement.lstrip().upper().startswith("UPDATE TASKS"):
            task_id = armed.pop("task_id")
            with engine.begin() as other:
                other.execute(text("UPDATE tasks SET version = version + 1 WHERE id = :id"),
                              {"id": task_id})

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield lambda task_id: armed.__setitem__("task_id", task_id)
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_a_concurrent_writer_between_read_and_write_wins(
    session_factory: SF, world: World, race: Callable[[int], None]
) -> None:
    race(world.lead)
    with pytest.raises(ConcurrentChangeError):
        ack(session_factory, world.lead)
    task = task_row(session_factory, world.lead)
    assert (task.state, task.version, task.acknowledged_at) == ("assigned", 2, None)
    assert [e.action for e in events_of(session_factory, world.lead)] == ["assign"]
    ack(session_factory, world.lead)  # a retry reads the new version and succeeds
    assert task_row(session_factory, world.lead).version == 3


# --- extensions ------------------------------------------------------------------------


def extend(sf: SF, tid: int, day: str, to: date, cal: WorkCalendar,
           department: str = "市卫计局") -> int:
    result = extensions.request_extension(
        tid, department=department, new_due=to, reason="汛期影响施工", now=at(day), calendar=cal,
        session_factory=sf)
    assert result.extension_id is not None
    return result.extension_id


def test_extension_approved_moves_due_keeps_original_and_counts_as_extended(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf, tid = session_factory, world.lead
    ack(sf, tid)
    # filed on the due date itself: still in time
    ext_id = extend(sf, tid, "2015-12-31", date(2016, 3, 31), cal)
    assert task_row(sf, tid).due == DEADLINE  # not before approval
    refused(sf, lambda: extend(sf, tid, "2015-12-31", date(2016, 4, 29), cal), "已有待审批")
    result = extensions.approve_extension(ext_id, actor="李四", note="同意", now=at("2016-01-04"),
                                  session_factory=sf)
    assert result.due == date(2016, 3, 31) and result.extension_id == ext_id
    task = task_row(sf, tid)
    assert (task.due, task.original_due) == (date(2016, 3, 31), DEADLINE)
    with sf() as session:
        ext = session.get(ExtensionRequest, ext_id)
        assert ext is not None
        assert (ext.status, ext.decided_by, ext.decision_note, ext.current_due) == (
            "approved", "李四", "同意", DEADLINE)
    last = events_of(sf, tid)[-1]
    assert (last.action, last.actor, last.data) == ("approve_extension", "李四", {
        "extension_id": ext_id, "from_due": "2015-12-31", "to_due": "2016-03-31"})
    refused(sf, lambda: extensions.refuse_extension(ext_id, actor="李四", now=at("2016-01-05"),
                                            session_factory=sf), "已审批(已同意)")

    # not overdue after the original due date, since the due date moved
    view = get_task(sf, task_id=tid, as_of=date(2016, 1, 20), calendar=cal)
    assert view.status is not TaskStatus.OVERDUE and view.extended
    submit(sf, tid, "2016-03-01")
    lc.approve(tid, actor="李四", now=at("2016-03-02"), session_factory=sf)
    done = get_task(sf, task_id=tid, as_of=date(2016, 4, 1), calendar=cal)
    assert (done.status, done.light) == (TaskStatus.DONE_AFTER_EXTENSION, Light.GREEN)
    assert done.extensions[0].status_label == "已同意"


def test_extension_after_the_due_date_or_not_later_is_refused(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf, tid = session_factory, world.lead
    ack(sf, tid)
    refused(sf, lambda: extend(sf, tid, "2016-01-04", date(2016, 3, 31), cal), "现已逾期")
    refused(sf, lambda: extend(sf, tid, "2015-12-01", date(2015, 12, 30), cal), "不晚于当前期限")
    refused(sf, lambda: extend(sf, tid, "2015-12-01", date(2031, 3, 31), cal),
            "工作日历尚无2031年的节假日安排")
    refused(sf, lambda: extend(sf, world.support, "2015-12-01", date(2016, 1, 29), cal),
            "无权办理")

    def at_local(moment: datetime) -> Callable[[], object]:
        return lambda: extensions.request_extension(
            tid, department="市卫计局", new_due=date(2016, 1, 29), reason="x", now=moment,
            calendar=cal, session_factory=sf)

    # the day is Shanghai's: 00:30 on 2016-01-01 there is still 2015-12-31 in UTC
    refused(sf, at_local(at("2016-01-01", 0, 30)), "现已逾期")
    assert at_local(at("2015-12-31", 23, 30))() is not None


def test_refused_extension_keeps_the_due_date(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf, tid = session_factory, world.lead
    ack(sf, tid)
    ext_id = extend(sf, tid, "2015-12-01", date(2016, 3, 31), cal)
    result = extensions.refuse_extension(
        ext_id, actor="李四", note="不符合延期条件", now=at("2015-12-02"), session_factory=sf)
    assert result.due == DEADLINE and result.action is Action.REFUSE_EXTENSION
    assert task_row(sf, tid).due == DEADLINE
    detail = get_task(sf, task_id=tid, as_of=date(2016, 1, 5), calendar=cal)
    assert detail.status is TaskStatus.OVERDUE and not detail.extended
    assert detail.extensions[0].status == "refused"
    # a new request may follow a refused one
    extend(sf, tid, "2015-12-03", date(2016, 2, 29), cal)


def test_coordinator_changes_the_due_date_with_a_reason(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf, tid = session_factory, world.support
    refused(sf, lambda: lc.change_due(tid, actor="李四", new_due=date(2015, 12, 24), reason="",
                                      now=at("2015-05-01"), calendar=cal, session_factory=sf),
            "须填写理由")
    refused(sf, lambda: lc.change_due(tid, actor="李四", new_due=SUPPORT_DUE, reason="同一天",
                                      now=at("2015-05-01"), calendar=cal, session_factory=sf),
            "新期限与当前期限相同")
    lc.change_due(tid, actor="李四", new_due=date(2015, 12, 24), reason="与牵头单位协调",
                  now=at("2015-05-01"), calendar=cal, session_factory=sf)
    task = task_row(sf, tid)
    assert (task.due, task.original_due) == (date(2015, 12, 24), SUPPORT_DUE)
    assert events_of(sf, tid)[-1].data == {"from_due": "2015-12-17", "to_due": "2015-12-24"}


# --- return and resubmit --------------------------------------------------------------------


def test_return_then_resubmit_then_approve(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf, tid = session_factory, world.lead
    ack(sf, tid)
    submit(sf, tid, "2015-11-02")
    lc.return_(tid, actor="李四", reason="缺少统计表", now=at("2015-11-03"), session_factory=sf)
    assert task_row(sf, tid).state == "returned"
    detail = get_task(sf, task_id=tid, as_of=date(2015, 11, 4), calendar=cal)
    assert detail.status is not TaskStatus.SUBMITTED  # returned is open again
    lc.report(tid, department="市卫计局", note="补充统计表", now=at("2015-11-05"),
              session_factory=sf)
    submit(sf, tid, "2015-11-10")
    lc.approve(tid, actor="李四", now=at("2015-11-11"), session_factory=sf)
    states = [(e.action, e.to_state) for e in events_of(sf, tid)][1:]
    assert states == [("acknowledge", "acknowledged"), ("submit", "submitted"),
                      ("return", "returned"), ("report", "in_progress"),
                      ("submit", "submitted"), ("approve", "approved")]
    assert events_of(sf, tid)[3].note == "缺少统计表"
    assert task_row(sf, tid).submitted_at == at("2015-11-10")


# --- indicator values --------------------------------------------------------------------


def test_indicator_values_are_stored_per_target(session_factory: SF, world: World) -> None:
    sf = session_factory
    ack(sf, world.lead)
    lc.report(world.lead, department="市卫计局", note="进展", now=at("2015-07-02"),
              values={"住院报销比例": "72.5%", BEDS: "28 张"}, session_factory=sf)
    ack(sf, world.single, department="市人社局")
    result = lc.report(world.single, department="市人社局", note="进展", value="19",
                       now=at("2015-07-02"), session_factory=sf)
    assert result.values == {DOCTORS: 19.0}
    with sf() as session:
        rows = session.execute(
            select(IndicatorReading.task_id, IndicatorReading.value, IndicatorReading.reported_on)
            .order_by(IndicatorReading.id)
        ).all()
    day = date(2015, 7, 2)
    assert [tuple(r) for r in rows] == [
        (world.lead, 72.5, day), (world.lead, 28.0, day), (world.single, 19.0, day)]


@pytest.mark.parametrize(
    ("values", "bare", "match"),
    [
        ({REIMBURSEMENT: "七十"}, None, f"指标“{REIMBURSEMENT}”的值“七十”不是数字"),
        ({BEDS: "nan"}, None, "不是数字"),
        ({BEDS: True}, None, "不是数字"),
        ({"直选比例": "40"}, None, "没有指标“直选比例”"),
        ({"比例": "1", "比例 ": "2"}, None, "填写了两次"),
        (None, "75", "有2个数值指标"),
        ({REIMBURSEMENT: "75", "报销比例": "76"}, None, "填写了两次"),
    ],
)
def test_bad_indicator_values_are_refused(
    session_factory: SF, world: World, values: dict[str, object] | None, bare: object, match: str
) -> None:
    ack(session_factory, world.lead)
    refused(session_factory,
            lambda: lc.report(world.lead, department="市卫计局", note="进展", values=values,
                              value=bare, now=at("2015-07-02"), session_factory=session_factory),
            match)


def test_a_task_without_numeric_targets_takes_no_values(session_factory: SF, world: World) -> None:
    ack(session_factory, world.later)
    refused(session_factory,
            lambda: lc.report(world.later, department="市卫计局", note="进展", value="3",
                              now=at("2015-07-02"), session_factory=session_factory),
            "没有数值指标")


# --- status and lights ---------------------------------------------------------------------


def views_by_id(sf: SF, cal: WorkCalendar, day: date, **filters: Any) -> dict[int, Any]:
    return {v.id: v for v in list_tasks(sf, as_of=day, calendar=cal, **filters)}


def test_lights_as_of_any_day(session_factory: SF, world: World, cal: WorkCalendar) -> None:
    sf = session_factory
    ack(sf, world.lead)
    lc.report(world.lead, department="市卫计局", note="一季度", now=at("2015-04-03"),
              session_factory=sf)

    # 2015-05-04: Q1's report was due 2015-04-08 (5 working days after 03-31,
    # Qingming on 04-06). The lead reported on 04-03; the others did not.
    views = views_by_id(sf, cal, date(2015, 5, 4))
    assert (views[world.lead].status, views[world.lead].light) == (
        TaskStatus.NOT_YET_DUE, Light.GREEN)
    assert views[world.support].light is Light.YELLOW
    assert views[world.support].reasons == ["缺报进度1次"]
    assert views_by_id(sf, cal, date(2015, 4, 8))[world.support].light is Light.GREEN

    # due soon: 8 working days before 2015-12-31
    lead = views_by_id(sf, cal, date(2015, 12, 21))[world.lead]
    assert (lead.status, lead.light) == (TaskStatus.DUE_SOON, Light.YELLOW)
    assert "距期限8个工作日" in lead.reasons

    # overdue: red, and what --overdue selects
    later = views_by_id(sf, cal, date(2016, 1, 5))
    assert (later[world.lead].status, later[world.lead].light) == (TaskStatus.OVERDUE, Light.RED)
    assert later[world.lead].reasons == ["已逾期2个工作日"]
    overdue = views_by_id(sf, cal, date(2016, 1, 5), overdue=True)
    assert set(overdue) == {world.lead, world.support, world.district, world.single}

    # approved: green whatever the day
    submit(sf, world.lead, "2015-12-30")
    lc.approve(world.lead, actor="李四", now=at("2015-12-31"), session_factory=sf)
    done = views_by_id(sf, cal, date(2016, 1, 5))[world.lead]
    assert (done.status, done.light) == (TaskStatus.DONE_ON_TIME, Light.GREEN)


def test_submitted_after_the_due_date_is_done_late(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    ack(session_factory, world.lead)
    submit(session_factory, world.lead, "2016-01-05")
    lc.approve(world.lead, actor="李四", now=at("2016-01-06"), session_factory=session_factory)
    view = views_by_id(session_factory, cal, date(2016, 1, 7))[world.lead]
    assert view.status is TaskStatus.DONE_LATE


def test_an_indicator_behind_its_straight_line_is_yellow(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf = session_factory
    ack(sf, world.single, department="市人社局")
    for day, value in (("2015-04-03", "10"), ("2015-07-03", "11")):
        lc.report(world.single, department="市人社局", note="进展", value=value, now=at(day),
                  session_factory=sf)
    view = views_by_id(sf, cal, date(2015, 7, 6))[world.single]
    assert view.light is Light.YELLOW and view.reasons == ["指标进度落后"]


def test_list_filters(session_factory: SF, world: World, cal: WorkCalendar) -> None:
    day = date(2015, 5, 4)
    assert set(views_by_id(session_factory, cal, day, department="市卫计局")) == {
        world.lead, world.later}
    assert set(views_by_id(session_factory, cal, day, department="各区")) == {world.district}
    assert set(views_by_id(session_factory, cal, day, measure=9)) == {world.single}
    assert set(views_by_id(session_factory, cal, day, plan=world.plan_key, measure=8)) == {
        world.lead, world.support, world.district, world.later}
    yellow = views_by_id(session_factory, cal, day, light=Light.YELLOW)
    assert world.support in yellow and all(v.light is Light.YELLOW for v in yellow.values())
    view = views_by_id(session_factory, cal, day)[world.district]
    assert (view.department, view.named_as, view.role, view.measure) == (
        "香洲区", "各区", "supporting", 8)
    for bad, match in (({"department": "市外星局"}, "市外星局"), ({"measure": 77}, "第77项"),
                       ({"plan": "不存在的方案"}, "不存在的方案")):
        with pytest.raises(NotFoundError, match=match):
            list_tasks(session_factory, as_of=day, calendar=cal, **bad)  # type: ignore[arg-type]


def test_measure_light_is_its_worst_task(
    session_factory: SF, world: World, cal: WorkCalendar
) -> None:
    sf = session_factory
    for tid, department in ((world.single, "市人社局"),):
        ack(sf, tid, department=department)
        lc.submit(tid, department=department, note="完成", now=at("2015-04-01"),
                  session_factory=sf)
    lights = {m.number: m for m in measure_lights(sf, as_of=date(2016, 1, 5), calendar=cal)}
    assert lights[8].light is Light.RED and lights[8].task_count == 4
    assert lights[8].counts[Light.RED] == 3  # the 2017 task is not due yet
    assert lights[9].light is Light.GREEN and lights[9].task_count == 1


def test_list_tasks_runs_a_fixed_number_of_queries(
    session_factory: SF, world: World, cal: WorkCalendar, engine: Engine
) -> None:
    def count_selects() -> int:
        statements: list[str] = []

        def record(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            views = list_tasks(session_factory, as_of=date(2015, 5, 4), calendar=cal,
                               policy=StatusPolicy())
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert views
        return len(statements)

    few = count_selects()
    with session_factory.begin() as session:
        task = session.get(Task, world.lead)
        assert task is not None
        for department in session.scalars(select(Department).where(Department.name != HEALTH)):
            for deadline in (date(2016, 12, 31), date(2017, 12, 31)):
                session.add(Task(
                    measure_id=task.measure_id, department_id=department.id, named_as="x",
                    role="supporting", deadline=deadline, due=deadline, original_due=deadline,
                    state="acknowledged", assigned_at=task.assigned_at,
                ))
    for tid in (world.lead, world.support):
        ack(session_factory, tid, department=HEALTH if tid == world.lead else CIVIL)
        lc.report(tid, department=HEALTH if tid == world.lead else CIVIL, note="进展",
                  now=at("2015-04-03"), session_factory=session_factory)
    assert count_selects() == few
