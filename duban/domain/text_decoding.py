"""Turn the bytes of a plan file into text, or say clearly why not (stdlib only).

Government files come as UTF-8 (with or without BOM), UTF-16 with BOM, or
GBK/GB18030. Anything else, binary data or an empty file is refused with a
Chinese message naming the file.
"""

from __future__ import annotations

import codecs

from duban.domain.errors import PlanParseError

_ALLOWED_CONTROLS = {"\t", "\n", "\r", "\f", "\v"}


def _looks_like_text(text: str) -> bool:
    """True if ``text`` has no stray control characters and some Chinese or
    ASCII letters (a wrong legacy decoding of random bytes rarely passes)."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return False
    controls = sum(1 for c in text if ord(c) < 32 and c not in _ALLOWED_CONTROLS)
    if controls:
        return False
    cjk = sum(1 for c in visible if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f")
    ascii_alnum = sum(1 for c in visible if c.isascii() and c.isalnum())
    private_or_rare = sum(1 for c in visible if "\ue000" <= c <= "\uf8ff" or ord(c) > 0xFFFF)
    return private_or_rare == 0 and (cjk + ascii_alnum) / len(visible) > 0.3


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
