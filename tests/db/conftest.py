"""Tasks to act on, made directly with the ORM (independent of the assignment service).

:func:`seed_world` is a plain function so the CLI tests can seed the same
world into the database their commands use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import (
    Department,
    ExtensionRequest,
    IndicatorReading,
    Measure,
    Plan,
    Target,
    Task,
    TaskEvent,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEADLINE = date(2015, 12, 31)
SUPPORT_DUE = date(2015, 12, 17)
ASSIGNED = date(2015, 3, 2)

HEALTH = "珠海市卫生和计划生育局"  # 市卫计局
CIVIL = "珠海市民政局"  # 市民政局
XIANGZHOU = "香洲区"
HR = "珠海市人力资源和社会保障局"  # 市人社局

REIMBURSEMENT = "城乡居民基本医疗保险和医疗政策范围内的住院报销比例"
BEDS = "每千名老人拥有养老床位"
DOCTORS = "城乡每万名居民有合格的全科医生"


def at(day: str | date, hour: int = 9, minute: int = 0) -> datetime:
    """An aware moment: ``day`` at ``hour:minute`` Asia/Shanghai."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), SHANGHAI)


@dataclass(frozen=True)
class World:
    """Ids of the seeded plan and tasks.

    Measure 8 (two numeric targets due 2015-12-31, one plain target due
    2017-12-31): ``lead`` (市卫计局, lead), ``support`` (市民政局, supporting,
    due 2015-12-17), ``district`` (香洲区 as 各区, supporting) and ``later``
    (市卫计局, lead, deadline 2017, no numeric target). Measure 9 (one numeric
    target): ``single`` (市人社局, lead). All assigned 2015-03-02 09:00.
    """

    plan_id: int
    plan_key: str
    lead: int
    support: int
    district: int
    later: int
    single: int


def seed_world(session_factory: sessionmaker[Session]) -> World:
    """Insert the plan, measures, targets and tasks of :class:`World`.

    The directory must be loaded already (fixture ``synced_directory``).
    """
    now = at(ASSIGNED)
    with session_factory.begin() as session:
        departments = {d.name: d for d in session.scalars(select(Department))}
        plan = Plan(
            key="珠委办〔2014〕23号",
            title="珠海市加快社会建设工作方案",
            doc_number="珠委办〔2014〕23号",
            fingerprint="0" * 64,
            imported_at=now,
            updated_at=now,
        )
        m8 = Measure(
            plan=plan, number=8, label="8", title="保障和改善民生",
            text="到2015年,住院报销比例提高到75%以上;每千名老人拥有养老床位不少于30张。",
            source_line=62, source_end_line=62,
        )
        m8.targets = [
            Target(position=1, due=DEADLINE, indicator=REIMBURSEMENT, comparator=">=",
                   value=75.0, unit="%", text=f"到2015年,{REIMBURSEMENT}提高到75%以上",
                   source_line=62),
            Target(position=2, due=date(2017, 12, 31), text="到2017年,建立统一的医疗保障制度",
                   source_line=62),
            Target(position=3, due=DEADLINE, indicator=BEDS, comparator=">=", value=30.0,
                   unit="张", text=f"到2015年,{BEDS}不少于30张", source_line=62),
        ]
        m9 = Measure(
            plan=plan, number=9, label="9", title="推进医疗卫生改革",
            text="到2015年,基本实现城乡每万名居民有23名合格的全科医生。",
            source_line=64, source_end_line=64,
        )
        m9.targets = [
            Target(position=1, due=DEADLINE, indicator=DOCTORS, comparator=">=", value=23.0,
                   unit="名", text="到2015年,每万名居民有23名全科医生", source_line=64),
        ]
        session.add(plan)
        session.flush()

        def task(measure: Measure, department: str, named_as: str, role: str,
                 due: date, deadline: date = DEADLINE) -> int:
            row = Task(
                measure_id=measure.id, department_id=departments[department].id,
                named_as=named_as, role=role, deadline=deadline, due=due, original_due=due,
                state="assigned", assigned_at=now, version=1,
            )
            session.add(row)
            session.flush()
            session.add(TaskEvent(
                task_id=row.id, at=now, action="assign", actor_role="system", actor="系统",
                from_state=None, to_state="assigned",
                data={"due": due.isoformat(), "deadline": deadline.isoformat()},
            ))
            return row.id

        world = World(
            plan_id=plan.id,
            plan_key=plan.key,
            lead=task(m8, HEALTH, "市卫计局", "lead", DEADLINE),
            support=task(m8, CIVIL, "市民政局", "supporting", SUPPORT_DUE),
            district=task(m8, XIANGZHOU, "各区", "supporting", SUPPORT_DUE),
            later=task(m8, HEALTH, "市卫计局", "lead", date(2017, 12, 29), date(2017, 12, 31)),
            single=task(m9, HR, "市人社局", "lead", DEADLINE),
        )
    return world


@pytest.fixture
def world(session_factory: sessionmaker[Session], synced_directory: None) -> World:
    return seed_world(session_factory)


Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(session_factory: sessionmaker[Session]) -> Snapshot:
    """Every row of the tables the lifecycle writes, for before/after comparisons."""
    with session_factory() as session:
        return {
            model.__tablename__: [
                tuple(row)
                for row in session.execute(
                    select(model.__table__).order_by(model.__table__.c.id)  # type: ignore[attr-defined]
                )
            ]
            for model in (Task, TaskEvent, ExtensionRequest, IndicatorReading)
        }
