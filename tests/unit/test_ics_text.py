"""The feeds' iCalendar text: a value written by duban.services.reports.ics_text
reads back the same through icalendar, in content lines of at most 75 octets
never cut inside a character."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from duban.services.reports.ics_text import CRLF, content_line, day, fold, text, utc_moment

VALUES = [
    pytest.param("措施8 保障和改善民生(牵头)", id="short-chinese"),
    pytest.param("状态:办理中,已逾期,红灯;见附件\\说明", id="comma-semicolon-backslash"),
    pytest.param("方案:基准市重点工作督办方案\n措施49:措施49\r\n责任单位:基准市第01局",
                 id="line-breaks"),
    pytest.param("到2015年,住院报销比例提高到75%以上;" * 12, id="long-mixed"),
    pytest.param("a" * 74 + "督" + "b" * 200, id="a-character-across-the-fold"),
    pytest.param("𠀀😀" * 40, id="four-octet-characters"),
    pytest.param("", id="empty"),
]


def _feed(lines: list[str]) -> str:
    return CRLF.join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//ZH", *lines,
                      "END:VCALENDAR"]) + CRLF


@pytest.mark.parametrize("value", VALUES)
def test_a_text_value_reads_back_the_same_from_lines_of_75_octets(value: str) -> None:
    written = _feed(["BEGIN:VEVENT", "UID:x@duban", "DTSTAMP:20160301T020000Z",
                     content_line("DESCRIPTION", text(value)), "END:VEVENT"])
    for line in written.split(CRLF):
        assert len(line.encode("utf-8")) <= 75, line
    event = Calendar.from_ical(written).walk("VEVENT")[0]
    assert str(event["DESCRIPTION"]) == value.replace("\r\n", "\n")


def test_folding_keeps_short_lines_and_marks_each_continuation_with_a_space() -> None:
    assert fold("SUMMARY:短") == "SUMMARY:短"
    long = "DESCRIPTION:" + "督" * 40
    folded = fold(long)
    parts = folded.split(CRLF)
    assert len(parts) == 2 and parts[1].startswith(" ") and not parts[0].startswith(" ")
    assert "".join(p.removeprefix(" ") for p in parts) == long


@pytest.mark.parametrize("length", [74, 75, 76, 149, 150, 223, 224, 400])
@pytest.mark.parametrize("tail", ["", "督"], ids=["ascii", "cjk"])
def test_a_long_line_is_cut_at_75_octets_then_74_after_the_space(length: int, tail: str) -> None:
    # ASCII lines are cut as strings, others as UTF-8: the same rule.
    line = ("URL:http://duban.test/tasks/1?k=" + "a1.b-" * 100)[:length] + tail
    parts = fold(line).split(CRLF)
    assert "".join(p.removeprefix(" ") for p in parts) == line
    assert all(p.startswith(" ") for p in parts[1:]) and not parts[0].startswith(" ")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    # Every piece but the last is full (a character is never split).
    full = [len(p.encode("utf-8")) for p in parts[:-1]]
    assert all(n >= 75 - 3 for n in full) and (not tail or len(parts[-1].encode()) >= 3)
    if line.isascii():
        assert full == [75] * len(full)  # the first piece, then a space and 74


def test_dates_moments_and_parameters_read_back_as_written() -> None:
    moment = datetime(2016, 3, 1, 10, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    written = _feed([
        content_line("REFRESH-INTERVAL", "PT1H", "VALUE=DURATION"),
        "BEGIN:VEVENT", "UID:x@duban", f"DTSTAMP:{utc_moment(moment)}",
        f"DTSTART;VALUE=DATE:{day(date(2016, 3, 31))}", "END:VEVENT",
    ])
    feed = Calendar.from_ical(written)
    event = feed.walk("VEVENT")[0]
    assert event.decoded("DTSTAMP") == datetime(2016, 3, 1, 2, 0, 5, tzinfo=UTC)
    assert event.decoded("DTSTART") == date(2016, 3, 31)
    assert feed["REFRESH-INTERVAL"].dt.total_seconds() == 3600
