"""Printable documents as data: kinds, 文号 patterns, default 督办意见, and content
that survives a round trip through JSON."""

from __future__ import annotations

import json
from datetime import date

import pytest

from duban.domain.errors import DubanError
from duban.domain.issued_documents import (
    BulletinContent,
    DocumentKind,
    DocumentSettings,
    InterviewEntry,
    LateUnit,
    NoticeContent,
    NoticeItem,
    default_opinion,
    kind_for_level,
    parse_kind,
)
from duban.domain.org import parse_org


def test_numbers_follow_the_pattern_per_series() -> None:
    settings = DocumentSettings.from_data(
        {"notice_number": "珠督〔{year}〕{seq}号",
         "bulletin_number": "珠督通〔{year}〕第{seq:03d}期"}
    )
    assert settings.number(DocumentKind.YELLOW, year=2016, seq=12) == "珠督〔2016〕12号"
    assert settings.number(DocumentKind.BULLETIN, year=2016, seq=3) == "珠督通〔2016〕第003期"
    assert DocumentKind.RED.series == DocumentKind.NOTICE.series != DocumentKind.BULLETIN.series
    assert DocumentSettings().number(DocumentKind.NOTICE, year=2015, seq=1) == "督〔2015〕1号"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"notice_number": "珠督〔{year}〕号"}, "应含 {seq}"),
        ({"notice_number": "珠督〔{year}〕{seq}号{dept}"}, "不能有其他占位符"),
        ({"bulletin_number": "{seq:q}"}, "无效"),
        ({"notice_number": "{seq"}, "无效"),
        ({"issuer": ""}, "issuer 应为非空字符串"),
        ({"isuer": "督办科"}, "未知的设置项:isuer"),
        (["issuer"], "documents 应为映射"),
    ],
    ids=["no-seq", "other-field", "bad-spec", "unclosed", "empty-issuer", "typo", "not-a-map"],
)
def test_bad_document_settings_name_the_key(data: object, message: str) -> None:
    with pytest.raises(DubanError, match=message) as caught:
        DocumentSettings.from_data(data, where="org.yaml documents")
    assert "org.yaml documents" in str(caught.value)


def test_the_org_file_carries_the_documents_block() -> None:
    org = parse_org(
        {"departments": [{"name": "甲局"}],
         "documents": {"issuer": "中共珠海市委社会工作部", "signer": "张主任",
                       "notice_number": "珠督〔{year}〕{seq}号"}},
        source="org.yaml", check_url=lambda url: url,
    )
    assert org.documents.issuer == "中共珠海市委社会工作部"
    assert org.documents.to_data() == {  # what differs from the defaults is stored
        "issuer": "中共珠海市委社会工作部", "signer": "张主任",
        "notice_number": "珠督〔{year}〕{seq}号"}
    with pytest.raises(DubanError, match=r"org\.yaml documents notice_number"):
        parse_org({"departments": [], "documents": {"notice_number": "x"}},
                  source="org.yaml", check_url=lambda url: url)


def test_the_kind_follows_the_highest_escalation_and_parses_by_name() -> None:
    assert [kind_for_level(level) for level in (0, 1, 2, 3)] == [
        DocumentKind.NOTICE, DocumentKind.NOTICE, DocumentKind.YELLOW, DocumentKind.RED]
    assert parse_kind("黄色督办单") is DocumentKind.YELLOW
    assert parse_kind("red", notices_only=True) is DocumentKind.RED
    with pytest.raises(DubanError, match="notice\\(督办通知单\\)"):
        parse_kind("bulletin", notices_only=True)


def test_default_opinions_say_what_each_kind_asks() -> None:
    reply = date(2016, 2, 3)
    red = default_opinion(DocumentKind.RED, overdue_days=30, reply_by=reply, supervisor="督查室")
    assert "已逾期30个工作日" in red and "约谈" in red and "2016年2月3日" in red
    yellow = default_opinion(DocumentKind.YELLOW, overdue_days=None, reply_by=reply,
                             supervisor="督查室")
    assert "逾期" not in yellow.split(",")[0] and "单位负责人" in yellow
    assert "书面反馈" in default_opinion(DocumentKind.NOTICE, overdue_days=None, reply_by=reply,
                                      supervisor="督查室")


def test_contents_round_trip_through_json() -> None:
    item = NoticeItem(task_id=3, measure=8, measure_title="保障和改善民生", targets=["到2015年…"],
                      role_label="配合", due=date(2015, 12, 17), original_due=date(2015, 12, 1),
                      state_label="已交办", overdue_days=30, escalations=["2015-12-18 催办"])
    notice = NoticeContent(kind=DocumentKind.RED, number="珠督〔2016〕1号", issuer="督办科",
                           issued_on=date(2016, 1, 29), plan_title="方案", department="香洲区",
                           items=[item], opinion="请办结", reply_by=date(2016, 2, 3),
                           signer="张科长", copy_to=["督查室"])
    assert NoticeContent.from_data(json.loads(json.dumps(notice.to_data()))) == notice
    assert item.time_limit == "2015-12-17(原期限 2015-12-01),已逾期 30 个工作日"
    bulletin = BulletinContent(
        number="督通〔2016〕1号", issuer="督办科", issued_on=date(2016, 1, 29), plan_title="方案",
        period_start=None, period_end=date(2015, 12, 31), counts={"tasks": 5},
        late_units=[LateUnit("香洲区", 2, 30, ["措施8(逾期30个工作日)"])],
        interviews=[InterviewEntry("香洲区", ["措施8"], date(2015, 12, 31))],
        done_units=["甲局"], requirements=["按时报送"], signer="张科长")
    assert BulletinContent.from_data(json.loads(json.dumps(bulletin.to_data()))) == bulletin
    assert bulletin.period_label == "方案实施以来至2015年12月31日"
