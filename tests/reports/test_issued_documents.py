"""Printable documents on the small world (tests/reports/conftest.py), on
SQLite and PostgreSQL: 督办单 per task and per department, the 督查通报's
counts, numbering per series and year, the .docx read back with python-docx,
and ``duban report notice|bulletin``. (The PDF is made and rendered to PNG in
the browser test, tests/web/test_desk_browser.py: LibreOffice costs seconds.)"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from duban.domain.errors import DubanError
from duban.domain.issued_documents import DocumentKind, NoticeContent
from duban.domain.scorecard import parse_period
from duban.services.reports.issued_document_files import docx_bytes, pdf_bytes
from duban.services.reports.issued_documents import issue_bulletin, issue_notice, list_documents
from duban.services.reports.libreoffice import ConverterMissing
from models import IssuedDocument, OrgSetting
from tests.conftest import CliRunner
from tests.db.conftest import XIANGZHOU, at
from tests.reports.conftest import History

ACTOR = "督办科(张科长)"


def _text(data: bytes) -> str:
    """Every paragraph of the .docx, body and tables, as python-docx reads it."""
    document = Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.extend(cell.text for cell in row.cells)
    return "\n".join(lines)


def _count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(IssuedDocument)) or 0


def test_notices_take_the_next_number_of_their_series_and_say_what_is_late(
    history: History, session_factory: sessionmaker[Session]
) -> None:
    world, calendar = history.world, history.calendar
    with session_factory.begin() as session:
        session.add(OrgSetting(key="documents", value={
            "issuer": "中共珠海市委社会工作部", "notice_number": "珠督〔{year}〕{seq}号"}))
    now = at("2016-01-29", 10)
    red = issue_notice(session_factory, actor=ACTOR, now=now, calendar=calendar,
                       task_ids=[world.district], signer="张科长")
    assert (red.kind, red.number, red.task_id) == (DocumentKind.RED, "珠督〔2016〕1号",
                                                   world.district)
    content = red.content
    assert isinstance(content, NoticeContent)
    assert content.department == XIANGZHOU and content.issuer == "中共珠海市委社会工作部"
    assert content.items[0].overdue_days == calendar.count_workdays(content.items[0].due,
                                                                    now.date())
    assert content.reply_by == calendar.add_workdays(now.date(), 3)  # red: 3 working days
    text = _text(docx_bytes(red))
    for expected in ("红 色 督 办 单", "珠督〔2016〕1号", "香洲区:", "措施8 保障和改善民生",
                     "约谈", "2015-12-31 红色督办", "张科长    2016年1月29日", "抄送:督查室"):
        assert expected in text, expected

    # By department: its overdue open tasks; the kind and opinion as chosen.
    yellow = issue_notice(session_factory, actor=ACTOR, now=now, calendar=calendar,
                          department="香洲区", kind=DocumentKind.YELLOW, opinion="请于2月5日前办结")
    assert yellow.number == "珠督〔2016〕2号" and yellow.department_id == red.department_id
    assert "请于2月5日前办结" in _text(docx_bytes(yellow))
    # The 通报 has a series of its own; a new year starts again at 1.
    bulletin = issue_bulletin(session_factory, actor=ACTOR, now=now, calendar=calendar,
                              period=parse_period("2015-Q4"))
    assert bulletin.number == "督通〔2016〕1号"
    later = issue_notice(session_factory, actor=ACTOR, now=at("2017-01-04", 10),
                         calendar=calendar, task_ids=[world.later])
    assert later.number == "珠督〔2017〕1号" and later.kind is DocumentKind.NOTICE
    assert [d.number for d in list_documents(session_factory, task_id=world.district)] == [
        "珠督〔2016〕2号", "珠督〔2016〕1号"]

    before = _count(session_factory)
    for arguments, message in [
        ({"task_ids": [world.lead]}, "已办结,不能再印发督办单"),
        ({"task_ids": [world.district, world.later]}, "只发给一个责任单位"),
        ({"department": "市人社局"}, "无需印发督办单"),
        ({"department": "不存在的局"}, "机构目录中没有单位"),
    ]:
        with pytest.raises(DubanError, match=message):
            issue_notice(session_factory, actor=ACTOR, now=now, calendar=calendar,
                         **arguments)  # type: ignore[arg-type]
    assert _count(session_factory) == before  # nothing issued, no number taken


def test_a_bulletin_counts_the_tasks_and_names_late_and_interviewed_units(
    history: History, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    now = at("2016-01-29", 10)
    view = issue_bulletin(session_factory, actor=ACTOR, now=now, calendar=history.calendar,
                          period=parse_period("2015-Q4"))
    content = view.content
    assert not isinstance(content, NoticeContent)
    assert content.counts == {
        "tasks": 5, "due": 4, "approved": 3, "on_time": 1, "submitted": 0, "overdue": 1,
        "not_due": 1, "red": 1, "yellow": 1, "blue": 0, "late": 1, "green": 2,
        # In Q4: 催办 of support and district (a superseded one does not count), 黄, 红.
        "urge": 2, "escalate_yellow": 1, "escalate_red": 1,
    }
    assert [(u.department, u.tasks) for u in content.late_units] == [(XIANGZHOU, 1)]
    assert [(e.department, e.measures) for e in content.interviews] == [(XIANGZHOU, ["措施8"])]
    assert content.done_units == ["珠海市卫生和计划生育局"]  # its only due task: on time
    text = _text(docx_bytes(view))
    assert "截至2016年1月29日" in text and "2015年10月1日至2015年12月31日" in text
    assert "三、约谈名单" in text and "四、按期办结单位" in text
    with pytest.raises(ConverterMissing, match="未找到 LibreOffice"):
        pdf_bytes(view, data_dir=tmp_path, soffice=str(tmp_path / "no-soffice"))


def test_report_notice_and_bulletin_commands(
    history: History,
    migrated_url: str,
    cli_env: Callable[[str], None],
    run_cli: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli_env(migrated_url)
    out = tmp_path / "督办单.docx"
    result = run_cli("report", "notice", "--task", str(history.world.district), "--out",
                     str(out), "--as-of", "2016-01-29")
    assert result.exit_code == 0, result.stderr
    assert "红色督办单 督〔2016〕1号(香洲区 措施8)已印发" in result.stdout
    assert "督〔2016〕1号" in _text(out.read_bytes())
    again = tmp_path / "again.docx"
    result = run_cli("report", "notice", "--number", "督〔2016〕1号", "--out", str(again))
    assert result.exit_code == 0 and "已重新输出" in result.stdout
    assert _text(again.read_bytes()) == _text(out.read_bytes())

    monkeypatch.setenv("DUBAN_SOFFICE", str(tmp_path / "no-soffice"))
    for arguments, message in [
        (("notice", "-d", "香洲区", "--out", str(tmp_path / "x.pdf")), "未找到 LibreOffice"),
        (("notice", "-d", "香洲区", "--out", str(tmp_path / "x.txt")), "应为 .docx 或 .pdf"),
        (("notice", "-d", "香洲区", "--kind", "blue", "--out", str(out)), "文书种类“blue”无效"),
        (("notice", "--out", str(out)), "请给出 --task"),
        (("bulletin", "--period", "2015-Q5", "--out", str(out)), "考核期间“2015-Q5”无效"),
        (("bulletin", "--number", "督〔2016〕1号", "--out", str(out)), "是红色督办单"),
    ]:
        result = run_cli("report", *arguments)
        assert result.exit_code == 1 and message in result.stderr, (arguments, result.stderr)
    result = run_cli("report", "bulletin", "--period", "2015-Q4", "--out",
                     str(tmp_path / "通报.docx"), "--as-of", "2016-01-29")
    assert result.exit_code == 0 and "督查通报 督通〔2016〕1号" in result.stdout
