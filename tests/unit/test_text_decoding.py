"""Plan files in the encodings government offices use, and files that are not text."""

from __future__ import annotations

import codecs

import pytest

from duban.domain.errors import PlanParseError
from duban.domain.text_decoding import decode_plan_bytes

TEXT = "关于推进某项工作的实施方案\n一、总体\n1.甲工作。推进甲。(市发改局牵头)\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        pytest.param(TEXT.encode("utf-8"), "utf-8", id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8", id="utf-8-bom"),
        pytest.param(TEXT.encode("gbk"), "gb18030", id="gbk"),
        pytest.param(TEXT.encode("gb18030"), "gb18030", id="gb18030"),
        pytest.param(TEXT.encode("utf-16"), "utf-16", id="utf-16-bom"),
    ],
)
def test_readable_encodings(data: bytes, encoding: str) -> None:
    assert decode_plan_bytes(data, source="f.txt") == (TEXT, encoding)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "文件为空", id="empty"),
        pytest.param(b"  \n\n ", "文件为空", id="blank"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是文本文件", id="binary"),
        pytest.param(bytes(range(0x80, 0x100)) * 4, "无法识别文件编码", id="undecodable"),
        pytest.param(b"abc\x01\x02\x03def", "不是文本文件", id="control-characters"),
    ],
)
def test_unreadable_files_are_refused_naming_the_file(data: bytes, message: str) -> None:
    with pytest.raises(PlanParseError) as caught:
        decode_plan_bytes(data, source="bad.txt")
    assert message in str(caught.value) and "bad.txt" in str(caught.value)
