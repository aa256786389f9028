"""Markdown for WeCom: neutralising user text and fitting a byte limit.

WeCom renders a small markdown dialect (headings, ``**bold**``, ``[text](url)``,
``>`` quotes, `` `code` `` and ``<font color=...>``) and refuses content over
4096 bytes (group bot) or 2048 bytes (application message), counted in UTF-8.
This module is pure Python: no apprise, no jinja2.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

__all__ = ["WECOM_BOT_LIMIT_BYTES", "MdText", "fit_markdown", "md_escape", "md_link", "safe_href"]

WECOM_BOT_LIMIT_BYTES = 4096

# Characters that open or close markdown constructs (or WeCom's <font> tag), mapped
# to their full-width forms: the text still reads naturally in Chinese, and no
# renderer treats a full-width character as markup (backslash escapes are not
# reliably honoured by WeCom).
_CONTROL = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "{": "｛",
        "}": "｝",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "#": "＃",
        "|": "｜",
        "<": "＜",
        ">": "＞",
        "~": "～",
        "&": "＆",
    }
)
# Markers that only matter at the start of a line (list items, setext headings).
_LEADING = re.compile(r"^(?:[-+=]|\d+[.)])")
_LINE_BREAKS = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
_OTHER_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class MdText(str):
    """A string that is already valid markdown and must not be escaped again."""

    __slots__ = ()


def md_escape(value: object) -> MdText:
    """Return ``value`` as text that renders literally inside WeCom markdown.

    Guarantees: the result contains none of ``\\ ` * _ { } [ ] ( ) # | < > ~ &``,
    no line break (line breaks become one space, so a note cannot start a new
    heading or list item), and does not start with a list marker. ``None`` is
    the empty string. An :class:`MdText` is returned unchanged (idempotent).
    """
    if isinstance(value, MdText):
        return value
    if value is None:
        return MdText("")
    text = _OTHER_CONTROLS.sub("", _LINE_BREAKS.sub(" ", str(value)))
    text = text.translate(_CONTROL)
    match = _LEADING.match(text)
    if match:
        marker = match.group(0)
        text = marker[:-1] + _FULL_WIDTH_MARKER[marker[-1]] + text[len(marker) :]
    return MdText(text)


_FULL_WIDTH_MARKER = {"-": "－", "+": "＋", "=": "＝", ".": "．", ")": "）"}


def safe_href(url: object) -> str:
    """Return ``url`` if it is an absolute http(s) URL, else ``""``.

    Spaces, quotes, angle brackets and parentheses are percent-encoded so the
    result can sit inside ``[text](url)`` or an HTML attribute without closing it.
    """
    text = "" if url is None else str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return ""
    return quote(text, safe="/:?#[]@!$&*+,;=%-._~")


def md_link(text: object, url: object) -> MdText:
    """``[text](url)`` with ``text`` escaped; just the escaped text if ``url`` is unsafe."""
    href = safe_href(url)
    label = md_escape(text)
    if not href:
        return label
    return MdText(f"[{label}]({href})")


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _label(index: int, total: int) -> str:
    return f"（{index}/{total}）" if index == 1 else f"（续{index}/{total}）"


# The widest label we reserve room for (up to 999 parts).
_LABEL_RESERVE = _size("（续999/999）")


def fit_markdown(md: str, limit_bytes: int = WECOM_BOT_LIMIT_BYTES) -> list[str]:
    """Split markdown into parts of at most ``limit_bytes`` UTF-8 bytes each.

    Returns ``[md]`` when it fits. Otherwise the first line (the message heading)
    is repeated at the top of every part with a label appended — ``（1/3）`` on the
    first part, ``（续2/3）``, ``（续3/3）`` on the others — and the rest is packed
    greedily, cutting only between blocks (blank-line separated: one block per
    item), else between lines, and only for a single line longer than a whole
    part between characters (never inside a UTF-8 sequence). The parts joined
    without their headings give back the original text (modulo blank lines at
    the cuts). Raises ``ValueError`` if ``limit_bytes`` is too small to hold a
    heading, a label and some text.
    """
    if _size(md) <= limit_bytes:
        return [md]
    heading, _, rest = md.partition("\n")
    if _size(heading) > limit_bytes // 4:
        # A heading this long is content, not a heading: keep it in the body.
        heading, rest = "", md
    overhead = _size(heading) + _LABEL_RESERVE + 2  # heading + label + "\n\n"
    budget = limit_bytes - overhead
    if budget < 16:
        raise ValueError(f"limit_bytes={limit_bytes} is too small to split markdown")
    parts = _pack(_blocks(rest.strip("\n")), budget)
    total = len(parts)
    if total > 999:
        raise ValueError("markdown would need more than 999 parts")
    return [f"{heading}{_label(i, total)}\n\n{part}" for i, part in enumerate(parts, start=1)]


def _blocks(text: str) -> list[list[str]]:
    """Blank-line separated blocks, each a list of its lines."""
    return [block.split("\n") for block in re.split(r"\n[ \t]*\n+", text) if block.strip()]


def _pack(blocks: list[list[str]], budget: int) -> list[str]:
    parts: list[str] = []
    current = ""

    def add(piece: str, separator: str) -> None:
        nonlocal current
        if not current:
            current = piece
        elif _size(current) + _size(separator) + _size(piece) <= budget:
            current = f"{current}{separator}{piece}"
        else:
            parts.append(current)
            current = piece

    for lines in blocks:
        block = "\n".join(lines)
        if _size(block) <= budget:
            add(block, "\n\n")
            continue
        separator = "\n\n"
        for line in lines:
            for piece in _split_line(line, budget):
                add(piece, separator)
                separator = "\n"
    if current:
        parts.append(current)
    return parts


def _split_line(line: str, budget: int) -> list[str]:
    """Cut one line into pieces of at most ``budget`` bytes, between characters."""
    if _size(line) <= budget:
        return [line]
    pieces: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(line):
        width = _size(char)
        if used + width > budget:
            pieces.append(line[start:index])
            start, used = index, 0
        used += width
    pieces.append(line[start:])
    return pieces
