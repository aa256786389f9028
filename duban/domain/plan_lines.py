"""Lines of plan text before the parser reads them: normalised, attachment lists
recognised, the 文号 taken as printed, and the year a plan counts its years from."""

from __future__ import annotations

import re
import unicodedata

_BRACKETS = str.maketrans({"〔": "(", "〕": ")", "【": "(", "】": ")", "［": "(", "］": ")"})


def normalize_line(line: str) -> str:
    """NFKC (full-width → half-width, ideographic space → space), trimmed;
    〔〕 and 【】 read as parentheses (plans put clauses in them too). A table row
    (cells joined by TAB) keeps its cells, each normalised."""
    if "\t" in line:
        cells = [
            unicodedata.normalize("NFKC", c).translate(_BRACKETS).strip() for c in line.split("\t")
        ]
        return "\t".join(cells) if any(cells) else ""
    return unicodedata.normalize("NFKC", line).translate(_BRACKETS).strip()


_ATTACHMENT_FIRST = re.compile(r"^附件\s*[::]?\s*1\s*[.、]\s*\S")
_ATTACHMENT_NEXT = re.compile(r"^(?P<n>\d{1,2})\s*[.、]\s*(?P<title>\S.*)$")


def attachment_list(lines: list[str]) -> set[int]:
    """Indexes of the numbered lines that continue an attachment list (附件:1.X /
    2.Y / 3.Z, blank lines between allowed): the titles of attached documents, not
    items. An entry is a short title without sentence punctuation, numbered on."""
    listed: set[int] = set()
    for start, line in enumerate(lines):
        if not _ATTACHMENT_FIRST.match(line):
            continue
        expected, index = 2, start + 1
        while index < len(lines):
            if not lines[index]:
                index += 1
                continue
            match = _ATTACHMENT_NEXT.match(lines[index])
            title = match.group("title") if match else ""
            if (match is None or int(match.group("n")) != expected or len(title) > 60
                    or re.search(r"[。;,:!?]", title)):
                break
            listed.add(index)
            expected, index = expected + 1, index + 1
    return listed


def as_printed(match: re.Match[str], raw_line: str) -> str:
    """The span ``doc`` of ``match`` (on a normalised line without spaces) taken
    from the raw line it came from, NFKC-normalised but with its brackets: the
    bracket mapping is one character for one, so the positions agree."""
    printed = unicodedata.normalize("NFKC", raw_line).strip().replace(" ", "")
    if len(printed) != len(match.string):  # not the same line after all: keep the match
        return match.group("doc")
    return printed[match.start("doc") : match.end("doc")]


_START_YEAR = re.compile(
    r"((?:19|20)\d{2})年(?:起|开始)(?:的)?(?:\d{1,2}|[一二三四五六七八九十两])年(?:之内|以内|内)"
)


def start_year(lines: list[str]) -> int | None:
    """The year the plan's "N年内" count from, when it says so itself (2012年起5年内):
    a bare "N年内" elsewhere may be any span (在两年之内 of a reward), so only a plan
    that anchors its years gives them a date."""
    for line in lines:
        if match := _START_YEAR.search(line):
            return int(match.group(1))
    return None
