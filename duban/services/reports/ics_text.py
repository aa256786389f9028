"""iCalendar text (RFC 5545) as the feeds write it: content lines with their
values escaped and folded, joined with CRLF.

Only what :mod:`duban.services.reports.ics` writes: TEXT values (escaped),
DATE and UTC DATE-TIME values, URIs and durations (written as given).

Why not the icalendar library's components: for a feed of a few thousand
events they took about 70% of its time (a property object and a parameter
dictionary per value, a fold character by character); these functions write
the same text, which the tests parse back with icalendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

CRLF = "\r\n"
LINE_OCTETS = 75  # a content line's longest, CRLF excluded (RFC 5545 §3.1)


def text(value: str) -> str:
    """A TEXT value escaped (backslash, semicolon, comma, line breaks)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def day(value: date) -> str:
    """A DATE value (``20160301``)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def utc_moment(value: datetime) -> str:
    """An aware moment as a UTC DATE-TIME value (``20160301T020000Z``)."""
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """``line`` split into lines of at most 75 octets in UTF-8, each after the
    first starting with a space; never inside a character."""
    if line.isascii():  # a character is an octet: cut the string itself
        if len(line) <= LINE_OCTETS:
            return line
        pieces = [line[:LINE_OCTETS]]
        pieces += (line[i:i + LINE_OCTETS - 1]  # the leading space counts
                   for i in range(LINE_OCTETS, len(line), LINE_OCTETS - 1))
        return "\r\n ".join(pieces)
    data = line.encode("utf-8")
    if len(data) <= LINE_OCTETS:
        return line
    parts = []
    start, width = 0, LINE_OCTETS
    while len(data) - start > width:
        end = start + width
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            end -= 1
        parts.append(data[start:end])
        start, width = end, LINE_OCTETS - 1  # the leading space counts
    parts.append(data[start:])
    return b"\r\n ".join(parts).decode("utf-8")


def content_line(name: str, value: str, parameters: str = "") -> str:
    """``NAME;PARAMETERS:value``, folded; ``value`` is written as given
    (escape TEXT with :func:`text` first)."""
    return fold(f"{name}{';' + parameters if parameters else ''}:{value}")
