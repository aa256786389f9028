"""Importing drafts: create, unchanged, diff and update, dry run, unknown names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DirectoryError, DraftError
from duban.domain.plan_draft import Measure as DraftMeasure
from duban.domain.plan_draft import NewAlias, NewDepartment, PlanDraft, Target
from duban.services.plans.import_report import FieldChange, ImportReport, ImportStatus
from duban.services.plans.importer import import_plan
from models import Department, Measure, Plan, Responsibility, Section
from models import Target as TargetRow
from tests.conftest import WriteLog
from tests.drafts import SAMPLE_DOC_NUMBER, SAMPLE_SOURCE, lead, sample_draft, supporting

pytestmark = pytest.mark.usefixtures("synced_directory")

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
TABLES = (Plan, Section, Measure, TargetRow, Responsibility, Department)


def counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in TABLES
        }


def run(
    session_factory: sessionmaker[Session],
    draft: PlanDraft,
    *,
    now: datetime = T0,
    dry_run: bool = False,
    create_unknown: bool = False,
    source_text: str | None = SAMPLE_SOURCE,
) -> ImportReport:
    return import_plan(
        draft,
        session_factory=session_factory,
        source_text=source_text,
        dry_run=dry_run,
        create_unknown=create_unknown,
        now=now,
    )


def changed_draft() -> PlanDraft:
    """The sample with measure 2 edited, measure 3 dropped and measure 4 added."""
    draft = sample_draft()
    m2 = draft.measures[1]
    m2.title = "全面推进家庭医生签约"
    m2.responsibilities.append(supporting("市人社局", 7))
    m2.targets[0].value = 80.0
    m4 = DraftMeasure(
        number=4,
        label="4",
        title="建设社区服务中心",
        text="建设社区服务中心。",
        line=10,
        end_line=10,
        section=2,
        responsibilities=[lead("市民政局", 10)],
    )
    draft.measures = [draft.measures[0], m2, m4]
    draft.plan_year = 2015
    return draft


def measure_ids(session_factory: sessionmaker[Session]) -> dict[int, int]:
    with session_factory() as session:
        return {number: id_ for number, id_ in session.execute(select(Measure.number, Measure.id))}


def test_import_stores_the_plan_and_resolves_names(
    session_factory: sessionmaker[Session],
) -> None:
    before = counts(session_factory)
    report = run(session_factory, sample_draft())

    assert report.status is ImportStatus.CREATED and not report.dry_run
    assert report.key == SAMPLE_DOC_NUMBER and report.plan_id is not None
    assert (report.measure_count, report.responsibility_count, report.target_count) == (3, 7, 2)
    after = counts(session_factory)
    assert after == before | {
        "plans": 1,
        "sections": 2,
        "measures": 3,
        "targets": 2,
        "responsibilities": 7,
    }

    with session_factory() as session:
        plan = session.scalars(select(Plan)).one()
        assert plan.source_text == SAMPLE_SOURCE
        assert plan.fingerprint == sample_draft().content_fingerprint()
        assert plan.imported_at == T0 == plan.updated_at
        assert plan.imported_at.tzinfo is not None
        rows = {
            r.named_as: r
            for r in session.scalars(
                select(Responsibility).join(Measure).where(Measure.number <= 2)
            )
        }
        assert rows["市卫计局"].department is not None
        assert rows["市卫计局"].department.name == "珠海市卫生和计划生育局"
        assert rows["市委社管部"].department.name == "中共珠海市委社会工作部"  # type: ignore[union-attr]
        assert rows["各区"].collective and rows["各区"].department_id is None
        assert not rows["市卫计局"].collective
        target = session.scalars(select(TargetRow).where(TargetRow.indicator.is_not(None))).one()
        assert (target.comparator, target.value, target.unit) == (">=", 75.0, "%")
        m3 = session.scalars(select(Measure).where(Measure.number == 3)).one()
        assert m3.section is not None and m3.section.title == "改善民生"
        assert [(r.role, r.named_as, r.position) for r in m3.responsibilities] == [
            ("lead", "各区", 1),
            ("lead", "市教育局", 2),
        ]


def test_reimporting_the_same_content_writes_nothing(
    session_factory: sessionmaker[Session], writes: WriteLog
) -> None:
    first = run(session_factory, sample_draft(), now=T0)
    before = counts(session_factory)
    writes.clear()

    again = run(session_factory, sample_draft(), now=T1)

    assert again.status is ImportStatus.UNCHANGED and again.plan_id == first.plan_id
    assert writes.statements == []
    assert counts(session_factory) == before
    with session_factory() as session:
        assert session.scalars(select(Plan.updated_at)).one() == T0


def test_a_changed_draft_is_diffed_and_applied_in_place(
    session_factory: sessionmaker[Session],
) -> None:
    run(session_factory, sample_draft(), now=T0)
    ids_before = measure_ids(session_factory)

    report = run(session_factory, changed_draft(), now=T1)

    assert report.status is ImportStatus.UPDATED
    assert report.plan_changes == [FieldChange("plan_year", 2014, 2015)]
    assert (report.measures_added, report.measures_removed) == ([4], [3])
    assert [c.number for c in report.measures_changed] == [2]
    changes = {c.field: c for c in report.measures_changed[0].changes}
    assert set(changes) == {"title", "supporting", "targets"}
    assert changes["title"].new == "全面推进家庭医生签约"
    assert changes["supporting"] == FieldChange(
        "supporting", ["市财政局"], ["市财政局", "市人社局"]
    )
    assert "75%" in changes["targets"].old[0] and "80%" in changes["targets"].new[0]

    ids_after = measure_ids(session_factory)
    assert ids_after[1] == ids_before[1] and ids_after[2] == ids_before[2]
    assert 3 not in ids_after and 4 in ids_after
    with session_factory() as session:
        plan = session.scalars(select(Plan)).one()
        assert (plan.imported_at, plan.updated_at, plan.plan_year) == (T0, T1, 2015)
        assert plan.fingerprint == changed_draft().content_fingerprint()
        m2 = session.get(Measure, ids_after[2])
        assert m2 is not None and m2.title == "全面推进家庭医生签约"
        assert [r.named_as for r in m2.responsibilities if r.role == "supporting"] == [
            "市财政局",
            "市人社局",
        ]
        assert m2.targets[0].value == 80.0
    assert counts(session_factory)["responsibilities"] == 7 - 2 + 1 + 1

    assert run(session_factory, changed_draft(), now=T1).status is ImportStatus.UNCHANGED


def test_moved_lines_are_applied_without_reporting_content_changes(
    session_factory: sessionmaker[Session],
) -> None:
    run(session_factory, sample_draft())
    draft = sample_draft()
    for measure in draft.measures:
        measure.line += 2
        measure.end_line += 2
        for responsibility in measure.responsibilities:
            responsibility.line += 2

    report = run(session_factory, draft, now=T1)

    assert report.status is ImportStatus.UPDATED
    assert report.measures_changed == [] and report.relocated == 3
    with session_factory() as session:
        lines = [tuple(row) for row in session.execute(select(Measure.number, Measure.source_line))]
        assert sorted(lines) == [(1, 7), (2, 9), (3, 11)]


def test_a_structured_target_change_is_reported_even_if_its_text_is_the_same(
    session_factory: sessionmaker[Session],
) -> None:
    run(session_factory, sample_draft())
    draft = sample_draft()
    draft.measures[0].targets[0].due_text = "2015年底前"

    report = run(session_factory, draft, now=T1)

    [change] = report.measures_changed
    assert [c.field for c in change.changes] == ["targets"]
    assert change.changes[0].new[0]["due_text"] == "2015年底前"


def test_dry_run_reports_the_same_and_writes_nothing(
    session_factory: sessionmaker[Session], writes: WriteLog
) -> None:
    writes.clear()
    trial = run(session_factory, sample_draft(), dry_run=True)
    assert trial.status is ImportStatus.CREATED and trial.dry_run and trial.plan_id is None
    assert writes.statements == [] and counts(session_factory)["plans"] == 0

    run(session_factory, sample_draft())
    before = counts(session_factory)
    writes.clear()
    trial = run(session_factory, changed_draft(), now=T1, dry_run=True)
    assert writes.statements == [] and counts(session_factory) == before

    real = run(session_factory, changed_draft(), now=T1)
    assert replace(trial, dry_run=False) == real


def test_unknown_names_are_all_listed_and_nothing_is_written(
    session_factory: sessionmaker[Session], writes: WriteLog
) -> None:
    draft = sample_draft()
    draft.measures[0].responsibilities.append(supporting("市不存在局", 6))
    draft.measures[2].responsibilities.append(supporting("市不存在局", 9))
    draft.measures[1].responsibilities.append(supporting("某某办", 7))
    before = counts(session_factory)
    writes.clear()

    with pytest.raises(DirectoryError) as info:
        run(session_factory, draft)

    message = str(info.value)
    assert "以下 2 个单位不在机构目录中" in message
    assert "市不存在局(第1项措施第6行、第3项措施第9行)" in message
    assert "某某办(第2项措施第7行)" in message
    assert writes.statements == [] and counts(session_factory) == before


def test_create_unknown_creates_departments_and_resolves_to_them(
    session_factory: sessionmaker[Session],
) -> None:
    draft = sample_draft()
    draft.measures[1].responsibilities.append(supporting("市不存在局", 7))

    trial = run(session_factory, draft, create_unknown=True, dry_run=True)
    assert trial.created_departments == ["市不存在局"]
    assert counts(session_factory)["departments"] == 40

    report = run(session_factory, draft, create_unknown=True)

    assert report.created_departments == ["市不存在局"]
    with session_factory() as session:
        department = session.scalars(
            select(Department).where(Department.name == "市不存在局")
        ).one()
        assert department.kind == "department"
        row = session.scalars(
            select(Responsibility).where(Responsibility.named_as == "市不存在局")
        ).one()
        assert row.department_id == department.id and row.role == "supporting"
    assert run(session_factory, draft).status is ImportStatus.UNCHANGED


def test_a_drafts_new_departments_and_aliases_are_written_with_the_plan(
    session_factory: sessionmaker[Session], writes: WriteLog
) -> None:
    draft = sample_draft()
    draft.measures[0].responsibilities.append(supporting("市数据局", 6))
    draft.measures[1].responsibilities.append(supporting("市卫计委", 7))
    draft.new_departments = [NewDepartment("市数据局", "party")]
    draft.new_aliases = [NewAlias("市卫计委", "市卫计局")]  # an alias names its department too

    trial = run(session_factory, draft, dry_run=True)
    assert trial.created_departments == ["市数据局"]
    assert trial.created_aliases == ["市卫计委=珠海市卫生和计划生育局"]
    assert counts(session_factory)["departments"] == 40

    report = run(session_factory, draft)

    assert report.created_aliases == ["市卫计委=珠海市卫生和计划生育局"]
    with session_factory() as session:
        created = session.scalars(select(Department).where(Department.name == "市数据局")).one()
        assert created.kind == "party"
        health = session.scalars(
            select(Department).where(Department.name == "珠海市卫生和计划生育局")
        ).one()
        assert "市卫计委" in {a.alias for a in health.aliases}
        resolved = dict(session.execute(
            select(Responsibility.named_as, Responsibility.department_id)
            .where(Responsibility.named_as.in_(["市数据局", "市卫计委"]))
        ).all())
        assert resolved == {"市数据局": created.id, "市卫计委": health.id}

    # An alias that names another department's name would make the directory
    # ambiguous: refused, nothing written.
    clash = sample_draft()
    clash.doc_number = "珠委办〔2014〕98号"
    clash.new_aliases = [NewAlias("市财政局", "市卫计局")]
    before = counts(session_factory)
    writes.clear()
    with pytest.raises(DirectoryError, match="市财政局"):
        run(session_factory, clash)
    assert writes.statements == [] and counts(session_factory) == before


def test_the_title_is_the_key_when_there_is_no_document_number(
    session_factory: sessionmaker[Session],
) -> None:
    draft = replace(sample_draft(), doc_number=None)
    report = run(session_factory, draft)
    assert report.key == "关于加强社会建设的工作方案(测试)"
    other = run(session_factory, sample_draft())
    assert other.status is ImportStatus.CREATED and other.plan_id != report.plan_id


def test_source_text_is_kept_for_a_draft_of_the_same_source(
    session_factory: sessionmaker[Session],
) -> None:
    run(session_factory, sample_draft())
    draft = sample_draft()
    draft.measures[0].title = "推进网格化服务管理"
    run(session_factory, draft, source_text=None, now=T1)
    with session_factory() as session:
        assert session.scalars(select(Plan.source_text)).one() == SAMPLE_SOURCE

    draft.source_sha256 = "0" * 64
    draft.measures[0].title = "推进网格化管理服务"
    run(session_factory, draft, source_text=None, now=T1)
    with session_factory() as session:
        assert session.scalars(select(Plan.source_text)).one() is None


def _duplicate_measure(draft: PlanDraft) -> None:
    draft.measures.append(replace(draft.measures[1], line=12, end_line=12))


def _duplicate_responsibility(draft: PlanDraft) -> None:
    draft.measures[1].responsibilities.append(lead("市卫计局", 7))


def _missing_section(draft: PlanDraft) -> None:
    draft.measures[2].section = 9


def _bad_comparator(draft: PlanDraft) -> None:
    draft.measures[1].targets.append(Target(text="x", line=7, comparator="≈", value=1.0))


def _empty_name(draft: PlanDraft) -> None:
    draft.measures[0].responsibilities.append(supporting(" ", 6))


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (_duplicate_measure, r"第2项措施重复\(第7行和第12行\)"),
        (_duplicate_responsibility, r"第2项措施\(第7行\):重复列出牵头单位“市卫计局”"),
        (_missing_section, r"第3项措施\(第9行\):所属的第9部分不存在"),
        (_bad_comparator, "第7行的目标比较符“≈”无效"),
        (_empty_name, r"第1项措施\(第5行\):第6行有空的配合单位名称"),
    ],
)
def test_inconsistent_drafts_are_refused_before_anything_is_written(
    session_factory: sessionmaker[Session], writes: WriteLog, spoil, expected: str
) -> None:
    draft = sample_draft()
    spoil(draft)
    writes.clear()
    with pytest.raises(DraftError, match=expected):
        run(session_factory, draft)
    assert writes.statements == []
    assert counts(session_factory)["plans"] == 0


def test_removing_a_section_moves_its_measures_and_swapping_roles_works(
    session_factory: sessionmaker[Session],
) -> None:
    run(session_factory, sample_draft())
    draft = sample_draft()
    draft.sections = draft.sections[:1]
    draft.measures[2].section = 1
    m1 = draft.measures[0]
    m1.responsibilities = [lead("市民政局", 6), supporting("市委社管部", 6), supporting("各区", 6)]

    report = run(session_factory, draft, now=T1)

    assert report.sections_removed == [2]
    changes = {c.number: {f.field for f in c.changes} for c in report.measures_changed}
    assert changes == {1: {"lead", "supporting"}, 3: {"section"}}
    with session_factory() as session:
        assert session.scalars(select(Section.number)).all() == [1]
        m3 = session.scalars(select(Measure).where(Measure.number == 3)).one()
        assert m3.section is not None and m3.section.number == 1
        m1_row = session.scalars(select(Measure).where(Measure.number == 1)).one()
        assert sorted((r.role, r.named_as) for r in m1_row.responsibilities) == [
            ("lead", "市民政局"),
            ("supporting", "各区"),
            ("supporting", "市委社管部"),
        ]


def test_a_plan_stored_under_another_bracket_spelling_is_updated_not_duplicated(
    session_factory: sessionmaker[Session],
) -> None:
    """Plans imported before the 文号 kept its brackets were stored as 珠委办(2014)99号:
    importing the printed 珠委办〔2014〕99号 updates that plan and gives it the printed key,
    and a key typed either way finds it."""
    from duban.services.plans.catalog import find_plan

    old = run(session_factory, replace(sample_draft(), doc_number="珠委办(2014)99号"))
    assert old.key == "珠委办(2014)99号"
    report = run(session_factory, sample_draft(), now=T1)
    assert SAMPLE_DOC_NUMBER == "珠委办〔2014〕99号"
    assert (report.status, report.plan_id) == (ImportStatus.UPDATED, old.plan_id)
    assert report.plan_changes == [FieldChange("doc_number", "珠委办(2014)99号", SAMPLE_DOC_NUMBER)]
    with session_factory() as session:
        assert session.scalars(select(Plan.key)).all() == [SAMPLE_DOC_NUMBER]
        for typed in ("珠委办(2014)99号", "珠委办〔2014〕99号", "珠委办[2014]99号"):
            assert find_plan(typed, session=session).id == old.plan_id


def _stored(session_factory: sessionmaker[Session], plan_key: str) -> list[tuple[object, ...]]:
    """Every measure, responsibility and target of the plan, each with its
    columns (ids replaced by the numbers of its measure and section)."""
    def columns(row: object, *skip: str) -> tuple[object, ...]:
        table = type(row).__table__  # type: ignore[attr-defined]
        return tuple(
            (c.key, getattr(row, c.key))
            for c in table.columns
            if c.key not in ("id", "plan_id", "measure_id", "section_id", *skip)
        )

    found: list[tuple[object, ...]] = []
    with session_factory() as session:
        plan = session.scalars(select(Plan).where(Plan.key == plan_key)).one()
        for measure in plan.measures:
            section = measure.section.number if measure.section else None
            found.append(("measure", measure.number, section, columns(measure)))
            for r in sorted(measure.responsibilities, key=lambda r: (r.role, r.position)):
                found.append(("responsibility", measure.number, columns(r)))
            for t in measure.targets:
                found.append(("target", measure.number, columns(t)))
    return found


def test_a_new_plans_measures_written_a_chunk_at_a_time_are_those_written_at_once(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new plan's measures are flushed and let go of MEASURE_CHUNK at a time;
    the rows are those the plan's collection writes in one flush."""
    from duban.services.plans import apply

    draft = sample_draft()
    at_once = replace(sample_draft(), doc_number="测试〔2014〕99号")
    with monkeypatch.context() as patched:
        patched.setattr(apply, "object_session", lambda _plan: None)  # the collection's way
        run(session_factory, at_once)
    monkeypatch.setattr(apply, "MEASURE_CHUNK", 2)
    report = run(session_factory, draft)
    assert report.status is ImportStatus.CREATED
    assert len(draft.measures) > apply.MEASURE_CHUNK
    chunked = _stored(session_factory, report.key)
    assert chunked == _stored(session_factory, "测试〔2014〕99号")
    assert len([row for row in chunked if row[0] == "measure"]) == len(draft.measures)
    assert run(session_factory, draft).status is ImportStatus.UNCHANGED
