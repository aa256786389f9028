"""Loading the organisation file and keeping the database in step (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from duban.config import DEFAULT_DIRECTORY_FILE
from duban.domain.errors import DubanError
from duban.domain.escalation import DEFAULT_POLICY
from duban.services.accounts.org import contacts_for, org_overview, org_settings
from duban.services.accounts.org_file import OrgSyncReport, load_org_file, sync_org
from duban.services.ladder.policy import (
    PolicyChange,
    current_policy,
    policy_fingerprint,
)
from duban.services.tasks.reapply_policy import apply_current_policy
from models import (
    Contact,
    ContactChannel,
    Department,
    EscalationPolicyRow,
    OrgSetting,
    Task,
)
from tests.conftest import WriteLog
from tests.db.conftest import World

NOW = datetime(2015, 9, 1, 1, 0, tzinfo=UTC)
LATER = datetime(2015, 10, 8, 1, 0, tzinfo=UTC)
SECRET = "S3cretPw"
KEY = "WECOMKEY0123"
HEALTH = "珠海市卫生和计划生育局"

LIAISON_MAIL = f"mailto://liaison:{SECRET}@mail.example.gov.cn?to=zhang@example.gov.cn"
HEAD_MAIL = f"mailto://head:{SECRET}@mail.example.gov.cn"

ORG = f"""
timezone: Asia/Shanghai
office_hours: "09:00-18:00"
base_url: "http://127.0.0.1:8000"
coordinators: [{{name: 督办科, notify: ["mailto://dbk:{SECRET}@mail.example.gov.cn"]}}]
supervisors: [{{name: 督查室, notify: ["mailto://dcs:{SECRET}@mail.example.gov.cn"]}}]
departments:
  - name: {HEALTH}
    aliases: [市卫计局]
    kind: department
    liaison: [{{name: 联络员, notify: ["{LIAISON_MAIL}", "wecombot://{KEY}"]}}]
    head: [{{name: 负责人, notify: ["{HEAD_MAIL}"]}}]
  - {{name: 珠海市民政局, aliases: [市民政局]}}
  - {{name: 香洲区, kind: district}}
"""

STRICT_POLICY = """
escalation:
  name: 从严督办规则
  steps:
    - {name: assigned, anchor: assigned, workdays: 0, level: 0, audience: [liaison]}
    - {name: urge, anchor: after_due, workdays: 1, level: 1, audience: [liaison, head]}
    - {name: escalate_red, anchor: after_due, workdays: 3, level: 3, audience: [supervisors]}
"""


def write(tmp_path: Path, text: str, name: str = "org.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(session_factory: sessionmaker[Session], model: type) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def load(
    tmp_path: Path, text: str, session_factory: sessionmaker[Session], now: datetime = NOW
) -> OrgSyncReport:
    return sync_org(load_org_file(write(tmp_path, text)), session_factory=session_factory,
                    now=now)


def department_id(session: Session, name: str) -> int:
    found = session.scalar(select(Department.id).where(Department.name == name))
    assert found is not None
    return found


def test_the_documented_shape_loads_then_reloads_without_writing(
    tmp_path: Path, session_factory: sessionmaker[Session], writes: WriteLog
) -> None:
    first = load(tmp_path, ORG, session_factory)
    assert first.changed
    assert first.directory.added == [HEALTH, "珠海市民政局", "香洲区"]
    assert (first.contacts, first.channels) == (4, 5)
    assert len(first.contacts_added) == 4 and first.channels_added == 5
    assert sorted(first.settings_changed) == ["base_url", "office_hours", "timezone"]
    assert first.policy_change is PolicyChange.NEW

    with session_factory() as session:
        settings = org_settings(session)
        assert (settings.timezone, str(settings.office_hours), settings.base_url) == (
            "Asia/Shanghai", "09:00-18:00", "http://127.0.0.1:8000"
        )
        liaison = contacts_for(session, department_id=department_id(session, HEALTH),
                               role="liaison")
        assert [c.name for c in liaison] == ["联络员"]
        channels = liaison[0].channels
        assert [c.scheme for c in channels] == ["mailto", "wecombot"]
        assert channels[0].url == LIAISON_MAIL
        assert all(SECRET not in c.url_privacy and KEY not in c.url_privacy for c in channels)
        coordinators = contacts_for(session, department_id=None, role="coordinator")
        assert [c.name for c in coordinators] == ["督办科"]
        assert contacts_for(session, department_id=None, role="liaison") == []
    policy_id, policy = current_policy(session_factory)
    assert policy_id == first.policy_id and policy == DEFAULT_POLICY

    writes.clear()
    second = load(tmp_path, ORG, session_factory, now=LATER)
    assert not second.changed
    assert second.policy_change is PolicyChange.UNCHANGED and second.policy_id == policy_id
    assert writes.statements == []


def test_an_invalid_address_stores_nothing_and_hides_the_secret(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    bad = ORG.replace("wecombot://", "nosuchscheme://")
    with pytest.raises(DubanError) as info:
        load(tmp_path, bad, session_factory)
    message = str(info.value)
    entry = f"{tmp_path / 'org.yaml'} departments 第1个单位“{HEALTH}” liaison 第1人“联络员”"
    assert entry in message
    assert "notify 第2个地址无效(nosuchscheme://***)" in message
    assert KEY not in message and SECRET not in message
    for model in (Department, Contact, ContactChannel, OrgSetting, EscalationPolicyRow):
        assert count(session_factory, model) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("kind: department", "kind: ministry"), "类型 kind“ministry”无效"),
        (('office_hours: "09:00-18:00"', 'office_hours: "18:00-09:00"'), "开始时间应早于结束时间"),
    ],
)
def test_a_bad_entry_stores_nothing(
    tmp_path: Path, session_factory: sessionmaker[Session], change: tuple[str, str], message: str
) -> None:
    with pytest.raises(DubanError, match=message):
        load(tmp_path, ORG.replace(*change), session_factory)
    assert count(session_factory, Department) == 0


def test_a_removed_contact_is_deactivated_and_comes_back(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    load(tmp_path, ORG, session_factory)
    without_head = ORG.replace(f'    head: [{{name: 负责人, notify: ["{HEAD_MAIL}"]}}]\n', "")
    report = load(tmp_path, without_head, session_factory)
    assert report.contacts_deactivated == [f"{HEALTH}/负责人/负责人"]
    assert not report.directory.changed and report.policy_change is PolicyChange.UNCHANGED
    with session_factory() as session:
        health = department_id(session, HEALTH)
        assert contacts_for(session, department_id=health, role="head") == []
    assert count(session_factory, Contact) == 4  # kept: deliveries may reference it

    back = load(tmp_path, ORG, session_factory)
    assert back.contacts_updated == [f"{HEALTH}/负责人/负责人"] and back.contacts_added == []
    with session_factory() as session:
        head = contacts_for(session, department_id=department_id(session, HEALTH), role="head")
        assert [c.name for c in head] == ["负责人"] and len(head[0].channels) == 1


def test_channels_follow_the_file_by_url(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    load(tmp_path, ORG, session_factory)
    with session_factory() as session:
        health = department_id(session, HEALTH)
        before = contacts_for(session, department_id=health, role="liaison")[0].channels
    other = f"mailto://other:{SECRET}@mail.example.gov.cn"
    # The WeCom robot first, the old mailbox dropped, a new one added.
    swapped = ORG.replace(
        f'["{LIAISON_MAIL}", "wecombot://{KEY}"]', f'["wecombot://{KEY}", "{other}"]'
    )
    report = load(tmp_path, swapped, session_factory)
    assert report.contacts_updated == [f"{HEALTH}/联络员/联络员"]
    assert (report.channels_added, report.channels_deactivated) == (1, 1)
    with session_factory() as session:
        after = contacts_for(session, department_id=health, role="liaison")[0].channels
        assert [c.url for c in after] == [f"wecombot://{KEY}", other]
        assert after[0].id == before[1].id  # the same channel row, moved up
        rows = session.scalars(
            select(ContactChannel).where(ContactChannel.id.in_([c.id for c in before]))
        ).all()
        assert {(r.url, r.active) for r in rows} == {
            (LIAISON_MAIL, False), (f"wecombot://{KEY}", True)
        }
    assert not load(tmp_path, swapped, session_factory).changed


def test_policy_versions_are_stored_once_and_one_is_current(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    default = load(tmp_path, ORG, session_factory)
    strict = load(tmp_path, ORG + STRICT_POLICY, session_factory, now=LATER)
    assert strict.policy_change is PolicyChange.NEW and strict.policy_id != default.policy_id
    assert strict.policy_name == "从严督办规则" and strict.policy_steps == 3
    policy_id, policy = current_policy(session_factory)
    assert policy_id == strict.policy_id and [s.name for s in policy.steps] == [
        "assigned", "urge", "escalate_red"
    ]
    back = load(tmp_path, ORG, session_factory)
    assert back.policy_change is PolicyChange.SWITCHED and back.policy_id == default.policy_id
    with session_factory() as session:
        rows = session.scalars(select(EscalationPolicyRow).order_by(EscalationPolicyRow.id)).all()
        assert [(r.id, r.current) for r in rows] == [
            (default.policy_id, True), (strict.policy_id, False)
        ]
        assert rows[0].fingerprint == policy_fingerprint(DEFAULT_POLICY)
        assert rows[1].created_at == LATER


def test_org_settings_and_policy_have_defaults_before_any_load(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        settings = org_settings(session)
        assert (settings.timezone, settings.office_hours.start, settings.base_url) == (
            "Asia/Shanghai", time(9), None
        )
        assert current_policy(session) == (None, DEFAULT_POLICY)
        assert org_overview(session).policy_id is None
    assert count(session_factory, EscalationPolicyRow) == 0


def test_the_builtin_directory_loads_as_an_org_file(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    load(tmp_path, ORG, session_factory)
    report = sync_org(load_org_file(DEFAULT_DIRECTORY_FILE), session_factory=session_factory,
                      now=NOW)
    assert len(report.directory.added) == 37 and report.contacts == 0
    # The file is the truth: a file without contacts deactivates them all.
    assert len(report.contacts_deactivated) == 4
    assert report.settings_changed == ["base_url"]


def test_overview_shows_privacy_forms_only(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    load(tmp_path, ORG, session_factory)
    with session_factory() as session:
        overview = org_overview(session)
    data = overview.to_dict()
    health = next(d for d in data["departments"] if d["name"] == HEALTH)
    assert [c["name"] for c in health["liaison"]] == ["联络员"]
    assert health["liaison"][0]["notify"][0].startswith("mailto://liaison:")
    assert [c["name"] for c in data["coordinators"]] == ["督办科"]
    assert len(data["policy"]["steps"]) == len(DEFAULT_POLICY.steps)
    text = repr(data)
    assert SECRET not in text and KEY not in text


def test_apply_moves_open_tasks_to_the_current_policy(
    tmp_path: Path, session_factory: sessionmaker[Session], world: World, writes: WriteLog
) -> None:
    with pytest.raises(DubanError, match="尚未载入督办规则"):
        apply_current_policy(session_factory=session_factory, now=NOW)
    with session_factory.begin() as session:
        session.execute(update(Task).where(Task.id == world.single).values(state="approved"))
    load(tmp_path, ORG.replace("  - {name: 珠海市民政局, aliases: [市民政局]}\n", "")
         .replace("  - {name: 香洲区, kind: district}\n", "") + STRICT_POLICY, session_factory)
    policy_id, _ = current_policy(session_factory)

    only_one = apply_current_policy(session_factory=session_factory, now=NOW, measure=8,
                                    plan=world.plan_key)
    assert (only_one.applied, only_one.already) == (4, 0)
    report = apply_current_policy(session_factory=session_factory, now=LATER)
    assert (report.applied, report.already) == (0, 4)  # the approved task is not open
    with session_factory() as session:
        tasks = {t.id: t for t in session.scalars(select(Task))}
    for task_id in (world.lead, world.support, world.district, world.later):
        task = tasks[task_id]
        assert (task.policy_id, task.next_action_at, task.version) == (policy_id, NOW, 2)
    assert tasks[world.single].policy_id is None and tasks[world.single].version == 1

    writes.clear()
    apply_current_policy(session_factory=session_factory, now=LATER, plan=world.plan_key)
    assert writes.statements == []
    with pytest.raises(DubanError, match="没有第99项措施"):
        apply_current_policy(session_factory=session_factory, now=NOW, measure=99)
