"""The escalation ladder: which steps fall due, which are superseded, what comes next."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from duban.domain.errors import DubanError
from duban.domain.escalation import (
    DEFAULT_POLICY,
    MANUAL_URGE,
    Anchor,
    EscalationPolicy,
    StepKey,
    TaskTimeline,
    evaluate,
    ladder,
    next_rung,
    stale_reason,
    step_by_name,
    step_label,
)
from duban.domain.lifecycle import TaskState
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar

TASK = TaskTimeline(state=TaskState.ASSIGNED, assigned_on=date(2015, 9, 1), due=date(2015, 12, 31))


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return build_work_calendar([])


def keys(occs: list) -> list[str]:  # type: ignore[type-arg]
    return [o.key for o in occs]


def test_assignment_notice_at_once_then_ack_reminder_after_two_working_days(
    cal: WorkCalendar,
) -> None:
    first = evaluate(TASK, DEFAULT_POLICY, cal, today=date(2015, 9, 1))
    assert keys(first.due) == ["assigned@2015-09-01"]
    # 2015-09-03/04 were holidays and Sunday 09-06 a make-up working day.
    assert first.next_on == date(2015, 9, 6)
    third = evaluate(TASK, DEFAULT_POLICY, cal, today=date(2015, 9, 6),
                     done=frozenset({"assigned@2015-09-01"}))
    assert keys(third.due) == ["ack_reminder@2015-09-01"]


def test_acknowledging_stops_only_the_ack_reminder(cal: WorkCalendar) -> None:
    acked = replace(TASK, state=TaskState.ACKNOWLEDGED, acknowledged_on=date(2015, 9, 2))
    result = evaluate(acked, DEFAULT_POLICY, cal, today=date(2015, 12, 17),
                      done=frozenset({"assigned@2015-09-01"}))
    superseded = {o.key: why for o, why in result.superseded}
    assert superseded["ack_reminder@2015-09-01"] == "已签收"
    assert "due_reminder_10@2015-12-31" in keys(result.due)


def test_overdue_ladder_dates_count_working_days(cal: WorkCalendar) -> None:
    acked = replace(TASK, state=TaskState.IN_PROGRESS, acknowledged_on=date(2015, 9, 2),
                    report_dates=(date(2015, 10, 9), date(2016, 1, 5)))
    done = frozenset({"assigned@2015-09-01", "due_reminder_10@2015-12-31",
                      "due_reminder_3@2015-12-31"})
    urge = evaluate(acked, DEFAULT_POLICY, cal, today=date(2016, 1, 4), done=done)
    assert keys(urge.due) == ["urge@2015-12-31"]  # 2016-01-01 was a holiday
    assert urge.next_on == date(2016, 1, 8)
    red = evaluate(acked, DEFAULT_POLICY, cal, today=date(2016, 1, 15),
                   done=done | {"urge@2015-12-31", "escalate_yellow@2015-12-31"})
    assert keys(red.due) == ["escalate_red@2015-12-31"] and red.next_on is None


def test_after_a_week_of_outage_stale_reminders_are_superseded(cal: WorkCalendar) -> None:
    acked = replace(TASK, state=TaskState.IN_PROGRESS, acknowledged_on=date(2015, 9, 2),
                    report_dates=(date(2015, 10, 9), date(2015, 12, 30)))
    result = evaluate(acked, DEFAULT_POLICY, cal, today=date(2016, 1, 11),
                      done=frozenset({"assigned@2015-09-01"}))
    assert keys(result.due) == ["urge@2015-12-31", "escalate_yellow@2015-12-31"]
    stale = dict((o.key, why) for o, why in result.superseded)
    assert "due_reminder_3@2015-12-31" in stale and "due_reminder_10@2015-12-31" in stale
    assert "已逾期" in stale["due_reminder_3@2015-12-31"]


def test_submitted_task_gets_nothing_more(cal: WorkCalendar) -> None:
    submitted = replace(TASK, state=TaskState.SUBMITTED)
    result = evaluate(submitted, DEFAULT_POLICY, cal, today=date(2016, 1, 15),
                      done=frozenset({"assigned@2015-09-01"}))
    assert result.due == [] and result.next_on is None
    assert all(why == "任务已报结或办结" for _o, why in result.superseded)


def test_extension_moves_every_later_step(cal: WorkCalendar) -> None:
    extended = replace(TASK, state=TaskState.IN_PROGRESS, acknowledged_on=date(2015, 9, 2),
                       due=date(2016, 3, 31),
                       report_dates=(date(2015, 10, 9), date(2016, 1, 5)))
    result = evaluate(extended, DEFAULT_POLICY, cal, today=date(2016, 1, 4),
                      done=frozenset({"assigned@2015-09-01", "due_reminder_10@2015-12-31"}))
    assert [o for o in result.due if o.step.anchor.value == "after_due"] == []
    assert result.next_on is not None and result.next_on > date(2016, 1, 4)


def test_missing_quarterly_report_gets_a_reminder(cal: WorkCalendar) -> None:
    acked = replace(TASK, state=TaskState.ACKNOWLEDGED, acknowledged_on=date(2015, 9, 2))
    result = evaluate(acked, DEFAULT_POLICY, cal, today=date(2015, 10, 14),
                      done=frozenset({"assigned@2015-09-01"}))
    # Q3's report was due 2015-10-13 (5th working day after the quarter).
    assert keys(result.due) == ["report_missing@2015-10-13"]
    superseded = {o.key: why for o, why in result.superseded}
    assert "逾期未报" in superseded["report_due@2015-10-13"]


def test_policy_round_trips_as_data_and_rejects_bad_steps() -> None:
    assert EscalationPolicy.from_data(DEFAULT_POLICY.to_data()) == DEFAULT_POLICY
    with pytest.raises(DubanError, match="第1步"):
        EscalationPolicy.from_data({"steps": [{"name": "x", "anchor": "nowhere"}]})
    with pytest.raises(DubanError, match="至少要有一步"):
        EscalationPolicy.from_data({"steps": []})


def test_after_a_long_outage_only_the_latest_report_reminder_is_sent(cal: WorkCalendar) -> None:
    acked = replace(TASK, state=TaskState.ACKNOWLEDGED, acknowledged_on=date(2015, 9, 2),
                    assigned_on=date(2014, 9, 1))
    result = evaluate(acked, DEFAULT_POLICY, cal, today=date(2015, 12, 1),
                      done=frozenset({"assigned@2014-09-01"}))
    reports = [o.key for o in result.due if o.step.anchor.value.startswith("report")]
    assert reports == ["report_missing@2015-10-13"]
    stale = [o.key for o, why in result.superseded if "最近一期" in why]
    assert "report_missing@2014-10-13" in stale and len(stale) == 4


def test_a_task_due_within_its_first_quarter_owes_no_report_and_does_not_crash(
    cal: WorkCalendar,
) -> None:
    short = TaskTimeline(state=TaskState.ACKNOWLEDGED, assigned_on=date(2016, 1, 4),
                         due=date(2016, 3, 15), acknowledged_on=date(2016, 1, 4))
    result = evaluate(short, DEFAULT_POLICY, cal, today=date(2016, 3, 16),
                      done=frozenset({"assigned@2016-01-04"}))
    assert [o.key for o in result.due] == ["urge@2016-03-15"]
    assert not [o for o, _ in result.superseded if o.step.anchor.value.startswith("report")]


def test_step_keys_read_and_write_name_and_anchor() -> None:
    key = StepKey.parse("due_reminder_3@2015-12-31")
    assert key == StepKey("due_reminder_3", "2015-12-31")
    assert key.anchor_date == date(2015, 12, 31) and not key.is_manual
    assert str(StepKey.manual(date(2016, 1, 29))) == "manual_urge@2016-01-29"
    assert StepKey.parse("manual_urge@2016-01-29").is_manual
    failure = StepKey.parse("delivery_failed@17")
    assert failure.anchor == "17" and failure.anchor_date is None
    assert str(StepKey.parse("assigned")) == "assigned"


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("due_reminder_3@2015-12-31", StepKey.on("due_reminder_3", date(2015, 12, 31))),
        ("manual_urge@2016-01-29", StepKey.manual(date(2016, 1, 29))),
        ("delivery_failed@17", StepKey.delivery_failure(17)),
        ("task_cancelled", StepKey("task_cancelled")),
    ],
    ids=["ladder-step", "manual-rung", "delivery-failure", "announcement"],
)
def test_a_step_key_parses_to_its_parts_and_formats_back_to_itself(
    key: str, parsed: StepKey
) -> None:
    assert StepKey.parse(key) == parsed
    assert parsed.format() == str(parsed) == key


def test_a_delivery_failure_key_names_its_delivery_and_no_other_key_does() -> None:
    assert StepKey.parse("delivery_failed@17").delivery_id == 17
    assert StepKey.parse("delivery_failed@17").is_delivery_failure
    assert not StepKey.parse("urge@2016-01-04").is_delivery_failure
    with pytest.raises(ValueError, match="not a delivery-failure key"):
        _ = StepKey.parse("urge@2016-01-04").delivery_id


def test_every_key_the_ladder_makes_reads_back_as_its_step_and_anchor(cal: WorkCalendar) -> None:
    known = ladder(TASK, DEFAULT_POLICY, cal, until=date(2016, 3, 31)).known
    assert {o.step.name for o in known} == {s.name for s in DEFAULT_POLICY.steps}
    for occ in known:
        assert StepKey.parse(occ.key) == StepKey.on(occ.step.name, occ.anchor_date)


def test_the_manual_rung_is_known_by_name_but_refused_in_a_policy() -> None:
    assert step_by_name(DEFAULT_POLICY, "manual_urge") is MANUAL_URGE
    assert MANUAL_URGE.level == 1 and MANUAL_URGE.anchor is Anchor.MANUAL
    assert step_label(DEFAULT_POLICY, "manual_urge@2016-01-29") == "督办科催办"
    assert step_label(DEFAULT_POLICY, "urge@2015-12-31") == "催办"
    assert step_label(DEFAULT_POLICY, "gone@2015-12-31") == "gone"
    for bad in ({"name": "x", "anchor": "manual", "audience": ["liaison"]},
                {"name": "manual_urge", "anchor": "after_due", "audience": ["liaison"]}):
        with pytest.raises(DubanError, match="手动催办"):
            EscalationPolicy.from_data({"steps": [bad]})


def test_the_next_rung_is_the_first_overdue_step_still_ahead(cal: WorkCalendar) -> None:
    due = date(2015, 12, 31)
    urge, on = next_rung(DEFAULT_POLICY, due=due, today=date(2015, 12, 30), calendar=cal) or (
        None, None)
    assert urge is not None and urge.name == "urge" and on == date(2016, 1, 4)
    yellow = next_rung(DEFAULT_POLICY, due=due, today=date(2016, 1, 4), calendar=cal)
    assert yellow is not None and yellow[0].name == "escalate_yellow"
    assert next_rung(DEFAULT_POLICY, due=due, today=date(2016, 2, 1), calendar=cal) is None


def test_steps_in_an_unpublished_year_wait_while_everything_else_happens(
    cal: WorkCalendar,
) -> None:
    # 2026 is the last year the package knows: a task due 2026-12-31 has its
    # 催办/督办 and its Q4 report deadline in 2027.
    task = TaskTimeline(state=TaskState.ASSIGNED, assigned_on=date(2026, 9, 1),
                        due=date(2026, 12, 31))
    result = evaluate(task, DEFAULT_POLICY, cal, today=date(2026, 12, 17),
                      done=frozenset({"assigned@2026-09-01", "ack_reminder@2026-09-01"}))
    assert keys(result.due) == ["report_missing@2026-10-13", "due_reminder_10@2026-12-31"]
    assert result.next_on == date(2026, 12, 28)  # the 3-day reminder is still dated
    assert result.waits_for == 2027
    assert {w.step.name for w in result.waiting} == {
        "urge", "escalate_yellow", "escalate_red", "report_due", "report_missing"
    }
    # The Q4 report's deadline itself is unknown, so its steps have no anchor yet.
    assert {w.anchor_date for w in result.waiting if w.step.name == "report_due"} == {None}
    # Reported this period: the waiting report reminders are no longer meaningful.
    reported = replace(task, state=TaskState.IN_PROGRESS, acknowledged_on=date(2026, 9, 2),
                       report_dates=(date(2026, 10, 9), date(2026, 12, 10)))
    later = evaluate(reported, DEFAULT_POLICY, cal, today=date(2026, 12, 17))
    assert {w.step.name for w in later.waiting} == {"urge", "escalate_yellow", "escalate_red"}


def test_nothing_waits_for_a_finished_task(cal: WorkCalendar) -> None:
    task = TaskTimeline(state=TaskState.SUBMITTED, assigned_on=date(2026, 9, 1),
                        due=date(2026, 12, 31))
    result = evaluate(task, DEFAULT_POLICY, cal, today=date(2026, 12, 17))
    assert result.waiting == [] and result.waits_for is None


ACKED = replace(TASK, state=TaskState.IN_PROGRESS, acknowledged_on=date(2015, 9, 2))


@pytest.mark.parametrize(
    ("task", "today", "key", "expected"),
    [
        (TASK, date(2015, 9, 2), "assigned@2015-09-01", None),
        (replace(TASK, state=TaskState.SUBMITTED), date(2015, 9, 2), "assigned@2015-09-01",
         "任务已报结或办结"),
        (ACKED, date(2015, 9, 8), "ack_reminder@2015-09-01", "已签收"),
        (ACKED, date(2015, 12, 17), "due_reminder_10@2015-12-31", None),
        # Held up until the 3-day reminder fell due: only that one still goes.
        (ACKED, date(2015, 12, 28), "due_reminder_10@2015-12-31", "已被“到期提醒”取代"),
        (ACKED, date(2015, 12, 28), "due_reminder_3@2015-12-31", None),
        (ACKED, date(2016, 1, 5), "due_reminder_3@2015-12-31", "任务已逾期,到期提醒不再发送"),
        # The overdue ladder is cumulative: 催办 still goes once 督办 is due too.
        (ACKED, date(2016, 1, 20), "urge@2015-12-31", None),
        (ACKED, date(2015, 10, 14), "report_due@2015-10-13", "报送期限已过,改为逾期未报提醒"),
        (ACKED, date(2016, 1, 20), "report_missing@2015-10-13", "已由最近一期的报送提醒取代"),
        (replace(ACKED, report_dates=(date(2015, 10, 20),)), date(2015, 10, 21),
         "report_missing@2015-10-13", "本期进度已报送"),
        (replace(ACKED, due=date(2016, 3, 31)), date(2015, 12, 28),
         "due_reminder_3@2015-12-31", "到期日已调整,原提醒不再发送"),
        (ACKED, date(2016, 1, 20), "manual_urge@2016-01-04", None),
        (ACKED, date(2016, 1, 20), "delivery_failed@17", None),
    ],
    ids=[
        "fresh", "task-closed", "acknowledged", "still-due", "later-reminder", "latest-reminder",
        "overdue", "ladder-cumulative", "report-deadline-passed", "later-period",
        "report-made", "due-date-moved", "manual", "failure-report",
    ],
)
def test_a_held_up_notice_goes_out_only_while_the_sweep_would_still_send_it(
    cal: WorkCalendar, task: TaskTimeline, today: date, key: str, expected: str | None
) -> None:
    assert stale_reason(task, DEFAULT_POLICY, cal, today=today, key=key) == expected
