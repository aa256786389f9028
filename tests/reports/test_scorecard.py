"""Scorecards against counts worked out by hand on the small world
(tests/reports/conftest.py), on SQLite and PostgreSQL, and the pure rules."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError
from duban.domain.scorecard import Period, ScoreCounts, ScoreWeights, parse_period, score
from duban.services.reports.scorecard import build_scorecard
from tests.db.conftest import CIVIL, HEALTH, HR, XIANGZHOU
from tests.reports.conftest import History

AS_OF = date(2016, 1, 29)
Q4_AND_JANUARY = Period(date(2015, 10, 1), date(2016, 1, 31))

# Report deadlines (5th working day after the quarter): Q3 2015-10-13 (after
# the National Day week; 10-10 was a make-up working day), Q4 2016-01-08.
EXPECTED = {
    # lead: due 12-31 done on time; its Q3 report 07-20 falls in (06-30, 10-13].
    # later: due 2017, not due; Q3 report came 11-02 (late), which is also in
    # Q4's window (09-30, 01-08] (on time). 83.3% of reports: 70 + 25 = 95.
    HEALTH: dict(
        tasks_due=1,
        on_time=1,
        reports_on_time=2,
        reports_late=1,
        reports_missing=0,
        escalations={1: 0, 2: 0, 3: 0},
        score=95.0,
    ),
    # single: extended to 01-15, submitted 01-12; its 10-09 report covers Q3
    # and Q4. 70 × 0.8 + 30 = 86.
    HR: dict(
        tasks_due=1,
        after_extension=1,
        reports_on_time=2,
        reports_late=0,
        reports_missing=0,
        escalations={1: 0, 2: 0, 3: 0},
        score=86.0,
    ),
    # support: due 12-17, submitted 12-24; Q3 report 10-20 late; one 催办.
    # 70 × 0.4 + 30 × 0.5 − 1 = 42.
    CIVIL: dict(
        tasks_due=1,
        late=1,
        reports_on_time=0,
        reports_late=1,
        reports_missing=0,
        escalations={1: 1, 2: 0, 3: 0},
        score=42.0,
    ),
    # district: overdue, never reported (Q3 missing; Q4 not owed, due 12-17);
    # 催办, 黄色 and 红色督办 (the superseded one and the reminder do not count).
    XIANGZHOU: dict(
        tasks_due=1,
        overdue=1,
        reports_on_time=0,
        reports_late=0,
        reports_missing=1,
        escalations={1: 1, 2: 1, 3: 1},
        score=0.0,
    ),
}


EVERY_ROLE = ScoreWeights(task_roles=("lead", "supporting"))


def test_scorecard_matches_hand_counts(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    card = build_scorecard(
        session_factory,
        as_of=AS_OF,
        calendar=history.calendar,
        period=Q4_AND_JANUARY,
        weights=EVERY_ROLE,
    )
    rows = {row.department: row for row in card.rows}
    assert set(rows) == set(EXPECTED)
    for department, expected in EXPECTED.items():
        row = rows[department]
        got = {key: getattr(row.counts, key) for key in expected if key not in ("score",)}
        assert got == {k: v for k, v in expected.items() if k != "score"}, department
        assert row.score == expected["score"], department
        classes = ("on_time", "after_extension", "late", "awaiting_review", "overdue", "open")
        assert sum(getattr(row.counts, c) for c in classes) == row.counts.tasks_due
    assert [r.department for r in card.rows] == [HEALTH, HR, CIVIL, XIANGZHOU]
    assert [r.rank for r in card.rows] == [1, 2, 3, 4]
    data = card.to_dict()
    assert data["period"] == {"start": "2015-10-01", "end": "2016-01-31"}
    assert data["departments"][0]["department"] == HEALTH


def test_by_default_only_lead_tasks_are_scored_and_nothing_due_is_no_score(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    card = build_scorecard(
        session_factory, as_of=AS_OF, calendar=history.calendar, period=Q4_AND_JANUARY
    )
    # 市民政局 and 香洲区 only support: nothing of theirs is scored, so no score
    # and no rank, listed after the ranked ones (not first with full marks).
    assert [(r.department, r.score, r.rank) for r in card.rows] == [
        (HEALTH, 95.0, 1), (HR, 86.0, 2), (CIVIL, None, None), (XIANGZHOU, None, None)]
    rows = {row.department: row for row in card.rows}
    assert rows[XIANGZHOU].counts.tasks_due == 0
    assert rows[XIANGZHOU].counts.escalations == {1: 1, 2: 1, 3: 1}  # still shown
    assert rows[XIANGZHOU].score_text == "暂无得分"
    before = build_scorecard(session_factory, as_of=date(2015, 6, 1), calendar=history.calendar)
    assert all(r.score is None and r.rank is None for r in before.rows)


def test_scorecard_all_time_and_before_anything_was_due(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    everything = build_scorecard(session_factory, as_of=AS_OF, calendar=history.calendar)
    rows = {row.department: row for row in everything.rows}
    # The 09-15 催办 on 市人社局 counts once the period is not limited.
    assert rows[HR].counts.escalations == {1: 1, 2: 0, 3: 0}
    # 市卫计局's lead task: Q1, Q2 (the 04-03 report lies in (03-31, 07-07]) and Q3
    # on time; the later task: Q1 and Q2 missing, Q3 late (11-02), Q4 on time.
    counts = rows[HEALTH].counts
    assert (counts.reports_on_time, counts.reports_late, counts.reports_missing) == (4, 1, 2)
    early = build_scorecard(
        session_factory,
        as_of=date(2015, 6, 1),
        calendar=history.calendar,
        period=parse_period("2015"),
    )
    for row in early.rows:
        assert row.counts.tasks_due == 0
    # 香洲区 owed a Q1 report (deadline 2015-04-08) and never made it.
    assert {r.department: r.counts.reports_missing for r in early.rows}[XIANGZHOU] == 1


def test_weights_are_data() -> None:
    counts = ScoreCounts(tasks_due=2, on_time=1, overdue=1, reports_on_time=1)
    assert score(counts) == 65.0  # 70 × 0.5 + 30 × 1
    heavier = ScoreWeights.from_data(
        {"task_points": 80, "report_points": 20, "task_credit": {"overdue": 0.25}}
    )
    assert score(counts, heavier) == 70.0  # 80 × 0.625 + 20
    counts.escalations[3] = 4
    assert score(counts, heavier) == 50.0
    assert heavier.task_roles == ("lead",)
    both = ScoreWeights.from_data({"task_roles": ["supporting", "lead"]})
    assert both.task_roles == ("lead", "supporting")
    assert ScoreWeights.from_data(both.to_data()) == both
    for bad in (
        {"task_points": -1},
        {"bogus": 1},
        {"task_credit": {"early": 1}},
        {"escalation_penalty": {4: 1}},
        {"report_points": "x"},
        {"task_roles": ["owner"]},
        {"task_roles": []},
    ):
        with pytest.raises(DubanError):
            ScoreWeights.from_data(bad)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("", None, None),
        ("2015", date(2015, 1, 1), date(2015, 12, 31)),
        ("2015-Q4", date(2015, 10, 1), date(2015, 12, 31)),
        ("2016q1", date(2016, 1, 1), date(2016, 3, 31)),
        ("2016-02", date(2016, 2, 1), date(2016, 2, 29)),
        ("2015-10-01..2016-01-31", date(2015, 10, 1), date(2016, 1, 31)),
        ("..2015-12-31", None, date(2015, 12, 31)),
        ("2015-07-01..", date(2015, 7, 1), None),
    ],
)
def test_parse_period(text: str, start: date | None, end: date | None) -> None:
    assert parse_period(text) == Period(start, end)


@pytest.mark.parametrize("text", ["2015-13", "Q4", "2016-01-31..2015-10-01", "x..y"])
def test_parse_period_refuses(text: str) -> None:
    with pytest.raises(DubanError, match="考核期间"):
        parse_period(text)
