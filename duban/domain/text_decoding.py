"""Turn the bytes of a plan file into text, or say clearly why not (stdlib only).

Government files come as UTF-8 (with or without BOM), UTF-16 with BOM, or
GBK/GB18030. Anything else, binary data or an empty file is refused with a
Chinese message naming the file.
"""

from __future__ import annotations

import codecs
import re

from duban.domain.errors import PlanParseError

# Control characters other than \t \n \v \f \r: binary data, not text.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_READABLE = re.compile(r"[\u4e00-\u9fff\u3000-\u303fA-Za-z0-9]")
_RARE = re.compile(r"[\ue000-\uf8ff\U00010000-\U0010ffff]")
_SPACE = re.compile(r"\s")
SAMPLE = 256 * 1024  # characters of each sample (start, middle, end) that are counted


def _count(pattern: re.Pattern[str], text: str) -> int:
    return sum(1 for _ in pattern.finditer(text))


def _looks_like_text(text: str) -> bool:
    """True if ``text`` has no stray control characters and some Chinese or
    ASCII letters (a wrong legacy decoding of random bytes rarely passes).

    Memory stays flat for any size: control characters are searched for in
    the whole text, the rest is counted over three samples of at most
    :data:`SAMPLE` characters, never by listing characters.
    """
    if _CONTROLS.search(text):
        return False
    if len(text) > 3 * SAMPLE:
        middle = len(text) // 2 - SAMPLE // 2
        text = text[:SAMPLE] + text[middle : middle + SAMPLE] + text[-SAMPLE:]
    visible = len(text) - _count(_SPACE, text)
    if visible == 0:
        return False
    if _RARE.search(text):
        return False
    return _count(_READABLE, text) / visible > 0.3


def decode_plan_bytes(data: bytes, *, source: str) -> tuple[str, str]:
    """Return ``(text, encoding)``.

    Raises PlanParseError naming ``source`` for an empty file, binary data or
    an encoding that is neither UTF-8/UTF-16 nor GBK/GB18030.
    """
    if not data.strip():
        raise PlanParseError("文件为空,没有可解析的内容", source=source)
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data, "utf-8-sig", source), "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", source), "utf-16"
    if b"\x00" in data[:65536]:
        raise PlanParseError("不是文本文件(含二进制数据),请提供 .txt 文本格式的方案", source=source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if not _looks_like_text(text):
            raise PlanParseError("不是文本文件(含控制字符或无可读文字)", source=source)
        return text, "utf-8"
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if text and _looks_like_text(text):
        return text, "gb18030"
    raise PlanParseError(
        "无法识别文件编码:既不是 UTF-8,也不是 GBK/GB18030;请另存为 UTF-8 后重试",
        source=source,
    )


def _strict(data: bytes, encoding: str, source: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        raise PlanParseError(
            f"文件声明为 {encoding} 编码,但第 {err.start} 字节处无法解码", source=source
        ) from None
    if not _looks_like_text(text):
        raise PlanParseError("不是文本文件(含控制字符或无可读文字)", source=source)
    return text
