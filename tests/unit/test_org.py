"""The organisation file as data (no database, no Apprise): parsing, office hours,
and when a message may go out."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from duban.domain.errors import DubanError
from duban.domain.escalation import DEFAULT_POLICY
from duban.domain.org import (
    ContactRole,
    ContactSpec,
    OfficeHours,
    OrgFileError,
    contact_key,
    next_send_time,
    office_window,
    parse_org,
)
from duban.domain.workdays import WorkCalendar
from duban.services.calendar.data import build_work_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = "S3cretPw"
NINE_TO_SIX = OfficeHours(time(9), time(18))

ORG = f"""
timezone: Asia/Shanghai
office_hours: "08:30-17:30"
base_url: "http://127.0.0.1:8000/"
coordinators: [{{name: 督办科, notify: ["mailto://dbk:{SECRET}@mail.example.gov.cn"]}}]
supervisors: [{{name: 督查室, notify: "mailto://dcs:{SECRET}@mail.example.gov.cn"}}]
escalation:
  name: 试行规则
  steps:
    - {{name: assigned, anchor: assigned, workdays: 0, level: 0, audience: [liaison]}}
    - {{name: urge, anchor: after_due, workdays: 1, level: 1, audience: [liaison, head]}}
departments:
  - name: 市卫生和计划生育局
    aliases: [市卫计局]
    kind: department
    liaison:
      - {{name: 联络员甲, notify: ["mailto://a:{SECRET}@mail.example.gov.cn", "wecombot://KEY1"]}}
    head: {{name: 负责人乙, notify: ["mailto://b:{SECRET}@mail.example.gov.cn"]}}
  - {{name: 香洲区, kind: district}}
"""


def accept(url: str) -> str:
    """A stand-in for notifications.contacts.validate_url: refuses URLs with "bad"."""
    if "bad" in url:
        raise DubanError("无法识别的通知地址")
    return url


def parse(text: str) -> Any:
    return parse_org(yaml.safe_load(text), source="org.yaml", check_url=accept)


def test_the_documented_shape_parses() -> None:
    org = parse(ORG)
    assert [d.name for d in org.directory] == ["市卫生和计划生育局", "香洲区"]
    assert org.office_hours == OfficeHours(time(8, 30), time(17, 30))
    assert org.base_url == "http://127.0.0.1:8000"
    assert org.coordinators == [
        ContactSpec(ContactRole.COORDINATOR, "督办科", (f"mailto://dbk:{SECRET}@mail.example.gov.cn",))
    ]
    assert [s.name for s in org.supervisors] == ["督查室"]
    health = org.department_contacts["市卫生和计划生育局"]
    assert [(s.role, s.name, len(s.urls)) for s in health] == [
        (ContactRole.LIAISON, "联络员甲", 2),
        (ContactRole.HEAD, "负责人乙", 1),
    ]
    assert "香洲区" not in org.department_contacts
    assert (org.contact_count, org.channel_count) == (4, 5)
    assert org.policy.name == "试行规则" and len(org.policy.steps) == 2
    key = contact_key("市卫生和计划生育局", "liaison", "联络员甲")
    assert key == "市卫生和计划生育局/liaison/联络员甲"
    assert contact_key(None, ContactRole.COORDINATOR, "督办科") == "*/coordinator/督办科"


def test_a_plain_directory_file_gets_the_defaults() -> None:
    org = parse("departments:\n  - {name: 甲局}\n")
    assert (org.timezone, str(org.office_hours), org.base_url) == (
        "Asia/Shanghai", "09:00-18:00", None
    )
    assert org.policy is DEFAULT_POLICY
    assert org.contact_count == 0


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        pytest.param("departments:\n  - {name: 甲局, kind: ministry}\n",
                     "org.yaml 第1个单位", "类型 kind“ministry”无效", id="unknown-kind"),
        pytest.param("office_hours: '18:00-09:00'\ndepartments: []\n",
                     "org.yaml office_hours", "开始时间应早于结束时间", id="hours-reversed"),
        pytest.param("office_hours: nine to six\ndepartments: []\n",
                     "org.yaml office_hours", "格式无效", id="hours-format"),
        pytest.param("timezone: Mars/Base\ndepartments: []\n",
                     "org.yaml", "时区“Mars/Base”无效", id="timezone"),
        pytest.param("base_url: ftp://x\ndepartments: []\n",
                     "org.yaml base_url", "http:// 或 https://", id="base-url-scheme"),
        pytest.param("base_url: 'https://u:pw@x.cn'\ndepartments: []\n",
                     "org.yaml base_url", "不能包含用户名或密码", id="base-url-credentials"),
        pytest.param("coordinator: []\ndepartments: []\n",
                     "org.yaml", "不认识的字段 coordinator", id="unknown-top-level-key"),
        pytest.param("departments:\n  - {name: 甲局, liasion: []}\n",
                     "org.yaml departments 第1个单位“甲局”", "不认识的字段 liasion",
                     id="unknown-department-key"),
        pytest.param("departments:\n  - {name: 甲局, liaison: [{notify: ['x://y']}]}\n",
                     "org.yaml departments 第1个单位“甲局” liaison 第1人", "缺少姓名",
                     id="contact-without-name"),
        pytest.param("departments:\n  - {name: 甲局, head: [{name: 乙, notify: []}]}\n",
                     "org.yaml departments 第1个单位“甲局” head 第1人“乙”", "至少一个通知地址",
                     id="contact-without-address"),
        pytest.param("departments:\n  - {name: 甲局, liaison: [{name: 乙, notify: ['a://b']},"
                     " {name: 乙, notify: ['a://c']}]}\n",
                     "org.yaml 单位“甲局”", "联络员“乙”出现了两次", id="duplicate-contact"),
        pytest.param("supervisors: [{name: 丙, notify: ['a://b', 'a://b']}]\ndepartments: []\n",
                     "org.yaml supervisors 第1人“丙”", "重复的地址", id="duplicate-address"),
        pytest.param("escalation: [1]\ndepartments: []\n",
                     "org.yaml", "escalation 应为包含 steps 的映射", id="escalation-not-mapping"),
        pytest.param("escalation: {steps: [{name: x, anchor: never, audience: [liaison]}]}\n"
                     "departments: []\n",
                     "org.yaml escalation 第1步", "取值无效", id="escalation-bad-step"),
        pytest.param("units: []\n", "org.yaml", "应为包含 departments 列表", id="no-departments"),
    ],
)
def test_errors_name_the_file_and_entry(text: str, where: str, message: str) -> None:
    with pytest.raises(DubanError) as info:
        parse(text)
    assert info.value.where == where
    assert message in info.value.message


def test_an_invalid_address_is_named_by_position_and_scheme_only() -> None:
    text = (
        "departments:\n"
        "  - {name: 甲局}\n  - {name: 乙局}\n"
        f"  - name: 丙局\n    liaison: [{{name: 丁, notify: ['mailto://ok@x.cn',"
        f" 'mailto://bad:{SECRET}@x.cn']}}]\n"
    )
    with pytest.raises(OrgFileError) as info:
        parse(text)
    assert str(info.value) == (
        "org.yaml departments 第3个单位“丙局” liaison 第1人“丁”:"
        "notify 第2个地址无效(mailto://***):无法识别的通知地址"
    )
    assert SECRET not in str(info.value)


def test_an_address_without_a_scheme_is_not_echoed() -> None:
    with pytest.raises(OrgFileError) as info:
        parse(f"supervisors: [{{name: 丙, notify: ['bad-{SECRET}']}}]\ndepartments: []\n")
    assert "无法识别的地址" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-18:00", (time(9), time(18))),
        ("9:00-18:00", (time(9), time(18))),
        ("08:30 ~ 17:30", (time(8, 30), time(17, 30))),
        ("０９:００-１８:００", (time(9), time(18))),
        ("09:00至12:00", (time(9), time(12))),
    ],
)
def test_office_hours_parse(text: str, expected: tuple[time, time]) -> None:
    hours = OfficeHours.parse(text)
    assert (hours.start, hours.end) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("18:00-09:00", "开始时间应早于结束时间"),
        ("09:00-09:00", "开始时间应早于结束时间"),
        ("25:00-26:00", "超出范围"),
        ("09:00", "格式无效"),
        (900, "应为带引号的字符串"),
    ],
)
def test_bad_office_hours_are_refused(value: object, message: str) -> None:
    with pytest.raises(OrgFileError, match=message):
        OfficeHours.parse(value, where="org.yaml office_hours")


def test_office_window_is_that_day_in_the_zone() -> None:
    start, end = office_window(datetime(2015, 10, 8).date(), NINE_TO_SIX, tz=SHANGHAI)
    assert start == datetime(2015, 10, 8, 9, tzinfo=SHANGHAI)
    assert end == datetime(2015, 10, 8, 18, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return build_work_calendar([])


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# 2015: National Day 10-01..07 off (10-01 a Thursday); Saturday 10-10 a working day.
@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param("2015-09-29 10:00", "2015-09-29 10:00", id="inside-hours"),
        pytest.param("2015-09-29 07:30", "2015-09-29 09:00", id="early-morning"),
        pytest.param("2015-09-29 09:00", "2015-09-29 09:00", id="at-opening"),
        pytest.param("2015-09-29 18:00", "2015-09-30 09:00", id="at-closing"),
        pytest.param("2015-09-29 21:15", "2015-09-30 09:00", id="evening-next-morning"),
        pytest.param("2015-09-30 19:00", "2015-10-08 09:00", id="eve-of-national-day"),
        pytest.param("2015-10-03 10:00", "2015-10-08 09:00", id="inside-the-holiday"),
        pytest.param("2015-10-09 20:00", "2015-10-10 09:00", id="make-up-saturday"),
        pytest.param("2015-10-10 12:00", "2015-10-10 12:00", id="on-make-up-saturday"),
        pytest.param("2015-10-10 18:30", "2015-10-12 09:00", id="after-make-up-saturday"),
        pytest.param("2015-09-25 18:30", "2015-09-28 09:00", id="friday-evening"),
    ],
)
def test_next_send_time(calendar: WorkCalendar, moment: str, expected: str) -> None:
    got = next_send_time(local(moment), hours=NINE_TO_SIX, calendar=calendar, tz=SHANGHAI)
    assert got == local(expected)


def test_next_send_time_answers_in_the_moments_zone(calendar: WorkCalendar) -> None:
    evening = datetime(2015, 9, 30, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai
    got = next_send_time(evening, hours=NINE_TO_SIX, calendar=calendar, tz=SHANGHAI)
    assert got == datetime(2015, 10, 8, 1, 0, tzinfo=UTC) and got.tzinfo is UTC


def test_next_send_time_honours_other_hours(calendar: WorkCalendar) -> None:
    hours = OfficeHours(time(8, 30), time(17, 30))
    got = next_send_time(local("2015-09-29 17:45"), hours=hours, calendar=calendar, tz=SHANGHAI)
    assert got == local("2015-09-30 08:30")


def test_next_send_time_refuses_a_naive_moment(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        next_send_time(datetime(2015, 9, 29, 10), hours=NINE_TO_SIX, calendar=calendar,
                       tz=SHANGHAI)


def test_next_send_time_in_an_unpublished_year_waits_for_office_hours_monday_to_friday(
    calendar: WorkCalendar,
) -> None:
    # The package knows 2026 only: 2027-01-01 is a Friday of an unpublished year.
    got = next_send_time(local("2026-12-31 18:30"), hours=NINE_TO_SIX, calendar=calendar,
                         tz=SHANGHAI)
    assert got == local("2027-01-01 09:00")
    saturday = next_send_time(local("2027-01-02 10:00"), hours=NINE_TO_SIX, calendar=calendar,
                              tz=SHANGHAI)
    assert saturday == local("2027-01-04 09:00")
