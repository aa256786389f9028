"""What a ledger row takes from the plain rows it reads: timestamps read as
:func:`~duban.services.reports.ledger_rows.moment` are the stored instants
(SQLite and PostgreSQL), and a row's reports up to a day are counted on the
local days of the task's report events, around local and UTC midnight."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.items import item_source_text
from duban.services.reports.ledger import build_ledger, end_of_day
from duban.services.reports.ledger_model import NO_SECTION, number_text
from duban.services.reports.ledger_rows import (
    EventColumns,
    LedgerRelated,
    TaskColumns,
    _json_value,
    _local_day,
    _reports_fields,
    moment,
    own_facts,
)
from duban.services.tasks.facts import local_date, task_facts
from models import Measure, Notice, Target, Task, TaskEvent
from tests.reports.conftest import History

ZONE = ZoneInfo("Asia/Shanghai")


def test_moments_are_the_instants_the_models_read(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        tasks = {t.id: t for t in session.scalars(select(Task))}
        rows = [TaskColumns(*row) for row in session.execute(select(*TaskColumns.selected()))]
        assert len(rows) == len(tasks) == 5
        for row in rows:
            task = tasks[row.id]
            assert (row.assigned_at, row.acknowledged_at, row.submitted_at, row.approved_at) == (
                task.assigned_at, task.acknowledged_at, task.submitted_at, task.approved_at
            )
            assert row.assigned_at.utcoffset() is not None
        events = list(session.scalars(select(TaskEvent).order_by(TaskEvent.id)))
        read = list(session.scalars(select(moment(TaskEvent.at)).order_by(TaskEvent.id)))
        assert read == [e.at for e in events] and len(read) > 10
        notices = list(session.scalars(select(Notice).order_by(Notice.id)))
        dues = list(session.scalars(select(moment(Notice.due_at)).order_by(Notice.id)))
        assert dues == [n.due_at for n in notices] and all(d.utcoffset() is not None for d in dues)


def _event(action: str, at: datetime, note: str | None = None) -> EventColumns:
    return EventColumns(1, action, at, note, {"values": {"比例": 75.0}} if note == "c" else None)


EVENTS = [  # in the order they happened, as the ledger reads them
    _event("report", datetime(2016, 1, 26, 15, 59, tzinfo=UTC), "a"),  # 23:59 on the 26th
    _event("submit", datetime(2016, 1, 27, 2, 0, tzinfo=UTC)),
    _event("report", datetime(2016, 1, 27, 16, 0, tzinfo=UTC), "b"),  # 00:00 on the 28th
    _event("report", datetime(2016, 1, 28, 15, 30, tzinfo=UTC), "c"),  # 23:30 on the 28th
    _event("report", datetime(2016, 1, 28, 16, 30, tzinfo=UTC), "d"),  # 00:30 on the 29th
]


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2016, 1, 25), (None, None, 0)),
        (date(2016, 1, 26), ("a", date(2016, 1, 26), 1)),
        (date(2016, 1, 27), ("a", date(2016, 1, 26), 1)),
        (date(2016, 1, 28), ("c", date(2016, 1, 28), 3)),
        (date(2016, 1, 29), ("d", date(2016, 1, 29), 4)),
        (date(2016, 2, 1), ("d", date(2016, 1, 29), 4)),
    ],
    ids=["before", "first-day", "day-after", "two-the-same-day", "after-utc-midnight", "later"],
)
def test_a_rows_reports_are_those_up_to_its_day_in_local_time(
    as_of: date, expected: tuple[str | None, date | None, int]
) -> None:
    task = TaskColumns(
        id=1, measure_id=1, department_id=1, named_as="", role="lead",
        deadline=date(2016, 3, 31), due=date(2016, 3, 31), original_due=date(2016, 3, 31),
        state="in_progress", assigned_at=datetime(2016, 1, 4, 2, 0, tzinfo=UTC),
        acknowledged_at=None, submitted_at=None, approved_at=None,
    )
    facts = task_facts(task, events=EVENTS, extensions=[], targets=[], readings=[], zone=ZONE)
    fields = _reports_fields(EVENTS, facts, as_of)
    # The definition: the task's reports whose local day is as_of or earlier.
    shown = [e for e in EVENTS if e.action == "report" and local_date(e.at, ZONE) <= as_of]
    assert fields["report_count"] == len(shown) == expected[2]
    assert fields["latest_progress_on"] == expected[1]
    progress = fields["latest_progress"]
    assert (progress[:1] if progress else None) == expected[0]
    if expected[0] == "c":
        assert progress == "c(比例:75)"


def test_the_latest_reports_values_are_decoded_where_shown(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    ledger = build_ledger(session_factory, as_of=date(2016, 1, 29), calendar=history.calendar)
    lead = next(row for row in ledger.rows if row.task_id == history.world.lead)
    with session_factory() as session:
        report = session.scalars(
            select(TaskEvent)
            .where(TaskEvent.task_id == lead.task_id, TaskEvent.action == "report")
            .order_by(TaskEvent.at.desc())
        ).first()
        assert report is not None and report.data is not None
        values = report.data["values"]
    shown = ";".join(f"{name}:{number_text(value)}" for name, value in values.items())
    assert len(values) == 2 and lead.latest_progress == f"{report.note}({shown})"


@pytest.mark.parametrize(
    "stored", ["null", '{"values": {"比例": 75}}', '{"values": null}', '"null"', "[]", " null"]
)
def test_a_reports_values_read_as_text_decode_as_json(stored: str) -> None:
    # SQLite's text of a JSON column, "null" for a report without values.
    assert _json_value(stored) == json.loads(stored)
    assert _json_value({"values": {}}) == {"values": {}}  # PostgreSQL's decoded value


@pytest.mark.parametrize("until", [date(2015, 12, 1), date(2016, 1, 29), date(2016, 12, 31)])
def test_a_tasks_own_facts_are_what_task_facts_finds_among_every_tasks_rows(
    history: History, session_factory: sessionmaker[Session], until: date
) -> None:
    with session_factory() as session:
        ids = select(Task.id)
        related = LedgerRelated.load(session, ids, until=end_of_day(until, ZONE))
        tasks = [TaskColumns(*row) for row in session.execute(select(*TaskColumns.selected()))]
        targets: dict[int, list[Target]] = {}
        for target in session.scalars(select(Target).order_by(Target.position)):
            targets.setdefault(target.measure_id, []).append(target)
        every_event = [e for rows in related.history.values() for e in rows]
        every_extension = [x for rows in related.extensions.values() for x in rows]
        every_reading = [r for rows in related.readings.values() for r in rows]
        assert every_event and every_reading  # rows of several tasks to tell apart
        assert every_extension or until < date(2016, 1, 1)
        days = related.local_days(ZONE)  # shared by every task, as ledger_row shares it
        for task in tasks:
            own = own_facts(task, related.history.get(task.id, ()),
                            related.extensions.get(task.id, ()), related.numeric(task),
                            related.readings.get(task.id, ()), ZONE)
            assert own_facts(task, related.history.get(task.id, ()),
                             related.extensions.get(task.id, ()), related.numeric(task),
                             related.readings.get(task.id, ()), ZONE, days) == own
            assert own == task_facts(task, events=every_event, extensions=every_extension,
                                     targets=targets.get(task.measure_id, []),
                                     readings=every_reading, zone=ZONE)


def test_a_measures_columns_say_what_its_objects_say(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        related = LedgerRelated.load_shared(session, select(Task.id), until=end_of_day(
            date(2016, 1, 29), ZONE))
        measures = {m.id: m for m in session.scalars(select(Measure))}
        assert related.measures.keys() <= measures.keys() and len(related.measures) >= 2
        for measure_id, columns in related.measures.items():
            measure = measures[measure_id]
            fields = related.measure_fields(columns)
            assert (fields["plan"], fields["plan_title"], fields["measure"],
                    fields["measure_title"], fields["measure_id"]) == (
                measure.plan.key, measure.plan.title, measure.number, measure.title, measure.id)
            section = measure.section
            assert fields["section"] == (section.heading if section else NO_SECTION)
            assert fields["section_number"] == (section.number if section else None)
            assert fields["item_source"] == item_source_text(
                measure.source_kind, measure.doc_ref, measure.instructed_by)


def test_local_days_and_escalation_marks_are_kept_per_zone() -> None:
    # 17:00 UTC is the next day in Shanghai: a day kept for one zone is not
    # another zone's.
    related = LedgerRelated()
    evening = datetime(2016, 1, 5, 17, 0, tzinfo=UTC)
    utc_days = related.local_days(UTC)
    assert _local_day(utc_days, evening, UTC) == date(2016, 1, 5)
    assert related.local_days(UTC)[evening] == date(2016, 1, 5)  # kept
    assert related.mark(2, evening, utc_days, UTC).on == date(2016, 1, 5)
    days = related.local_days(ZONE)
    assert evening not in days
    assert related.mark(2, evening, days, ZONE).on == date(2016, 1, 6)
    assert days[evening] == date(2016, 1, 6)
    mark = related.mark(2, evening, days, ZONE)
    assert (mark.level, mark.label, mark is related.mark(2, evening, days, ZONE)) == (
        2, "黄色督办", True)
    # The same instant in another offset is the same local day.
    assert related.mark(2, evening.astimezone(ZONE), days, ZONE) is mark


def test_summaries_count_each_row_once_in_its_group() -> None:
    # Rows as the summaries read them: every combination of what they count,
    # two groups, one cancelled row (counted nowhere), a measure twice.
    from itertools import product
    from types import SimpleNamespace

    from duban.domain.lifecycle import TaskState
    from duban.domain.status import Light, TaskStatus
    from duban.services.reports.ledger_model import SummaryRow, SummaryTally

    rows = [
        SimpleNamespace(department=name, measure_id=measure, state=state, light=light,
                        status=status, original_due=moved, missing_reports=missing,
                        escalations=escalated)
        for (name, measure), state, light, status, moved, missing, escalated in product(
            [("乙", 1), ("甲", 2), ("乙", 3), ("乙", 1)],
            [TaskState.ASSIGNED, TaskState.SUBMITTED, TaskState.APPROVED],
            [Light.RED, Light.GREEN], [TaskStatus.OVERDUE, TaskStatus.NOT_YET_DUE],
            [None, date(2016, 1, 1)], [0, 2], [[], ["催办"]])
    ]
    rows.insert(5, SimpleNamespace(department="丙", state=TaskState.CANCELLED))
    tally = SummaryTally(lambda r: r.department)
    for rank, row in enumerate(rows):
        tally.add(row, rank)  # type: ignore[arg-type]
    expected = []
    for name in ("乙", "甲"):
        mine = [r for r in rows if r.department == name]
        expected.append(SummaryRow(
            name, measures=len({r.measure_id for r in mine}), tasks=len(mine),
            red=sum(r.light is Light.RED for r in mine),
            green=sum(r.light is Light.GREEN for r in mine),
            open=sum(r.state is TaskState.ASSIGNED for r in mine),
            submitted=sum(r.state is TaskState.SUBMITTED for r in mine),
            approved=sum(r.state is TaskState.APPROVED for r in mine),
            overdue=sum(r.status is TaskStatus.OVERDUE for r in mine),
            extended=sum(r.original_due is not None for r in mine),
            missing_reports=sum(r.missing_reports > 0 for r in mine),
            escalated=sum(bool(r.escalations) for r in mine)))
    assert tally.summaries() == expected
    assert tally.summaries(ranked=True) == expected  # 乙's first row came first
    assert expected[0].tasks == 3 * expected[1].tasks and expected[0].measures == 2


def test_a_measures_targets_of_a_deadline_are_picked_as_numeric_targets_picks_them() -> None:
    # Targets grouped by due date once per measure: dated and undated mixed
    # (an undated one is no deadline's), undated only, none.
    from types import SimpleNamespace

    from duban.services.reports.ledger_rows import TargetColumns
    from duban.services.tasks.facts import numeric_targets

    d1, d2, d3 = date(2016, 3, 31), date(2016, 6, 30), date(2016, 9, 30)

    def target(id_: int, measure: int, position: int, due: date | None,
               value: float | None) -> TargetColumns:
        return TargetColumns(id_, measure, position, due, "比例", ">=", value, "%", f"目标{id_}")

    related = LedgerRelated()
    related.target_rows[1] += [target(1, 1, 1, None, 50.0), target(2, 1, 2, d1, 60.0),
                               target(3, 1, 3, d2, None), target(4, 1, 4, d1, None),
                               target(5, 1, 5, d2, 70.0)]
    related.target_rows[2] += [target(6, 2, 1, None, None), target(7, 2, 2, None, 80.0)]
    for measure in (1, 2, 3):
        targets = related.target_rows[measure]
        dated = any(t.due is not None for t in targets)
        for deadline in (d1, d2, d3):
            task = SimpleNamespace(measure_id=measure, deadline=deadline)
            assert related.numeric(task) == numeric_targets(task, targets)  # type: ignore[arg-type]
            assert related.targets_of(measure, deadline) == [
                t for t in targets if not dated or t.due == deadline]
    assert [t.id for t in related.targets_of(1, d1)] == [2, 4]
    assert [t.id for t in related.numeric(SimpleNamespace(measure_id=2, deadline=d3))] == [7]  # type: ignore[arg-type]


def test_a_tasks_escalations_and_recorded_steps_are_read_in_one_pass_of_its_notices(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    # Escalations: level >= 1, not superseded, due before the end of the day
    # (whenever recorded); steps: every notice recorded before it.
    until = end_of_day(date(2016, 1, 29), ZONE)
    before, after = until.replace(day=20), until.replace(day=30, hour=9)
    with session_factory() as session:
        task_id = session.scalars(select(Task.id).order_by(Task.id)).first()
        assert task_id is not None
        session.execute(delete(Notice).where(Notice.task_id == task_id))
        for step, level, status, due_at, created_at in [
            ("s_reminder", 0, "sent", before, before),  # a step, no escalation
            ("s_urge", 1, "sent", before, before),  # both
            ("s_old", 2, "superseded", before, before),  # a step only
            ("s_late", 2, "pending", before, after),  # an escalation, recorded after
            ("s_ahead", 3, "pending", after, before),  # a step, due after
            ("s_future", 3, "pending", after, after),  # neither
        ]:
            session.add(Notice(task_id=task_id, step=step, level=level, status=status,
                               due_at=due_at, created_at=created_at))
        session.commit()
        related = LedgerRelated.load(session, [task_id], until=until)
    assert [(e.level, e.due_at) for e in related.notices[task_id]] == [(1, before), (2, before)]
    assert related.steps[task_id] == {"s_reminder", "s_urge", "s_old", "s_ahead"}
