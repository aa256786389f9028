"""Word (.docx) plans with python-docx: body paragraphs and tables in order.

Automatic list numbering (a heading typed as a Word list shows "一、" or "1." that is
not in the paragraph's text) is rendered from the numbering definitions, so numbered
items read as printed. Tables become one row block each (cells joined by TAB); a
vertically merged cell repeats its text in every row it spans, as python-docx gives it.
Running headers and footers are not part of the body and are not read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from duban.domain.errors import PlanParseError
from duban.services.plans.documents import Block, PlanDocument

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CN_DIGITS = "零一二三四五六七八九"


def check_word_zip(path: Path, shown: str) -> None:
    """Refuse what is not a .docx: encrypted (an OLE container), another zip, not a zip."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if head == _OLE_MAGIC:
        if _ENCRYPTED in path.read_bytes():
            raise PlanParseError(
                "Word 文档已加密(设有打开密码),无法读取;请取消密码后另存再上传", source=shown
            )
        raise PlanParseError(
            "这是旧版 Word(.doc)格式的文件,扩展名却是 .docx;请把扩展名改为 .doc,"
            "或在 Word/WPS 中另存为 .docx",
            source=shown,
        )
    if not zipfile.is_zipfile(path):
        raise PlanParseError("不是 Word 文档(.docx 应为 zip 压缩格式)", source=shown)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    if "word/document.xml" not in names:
        raise PlanParseError(
            "不是 Word 文档:压缩包中没有 word/document.xml(可能是其他文件改了扩展名)",
            source=shown,
        )


def read_docx(path: Path, shown: str, *, format_name: str = "docx") -> PlanDocument:
    check_word_zip(path, shown)
    import docx  # python-docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except Exception as err:  # python-docx raises several kinds for a broken package
        raise PlanParseError(
            f"Word 文档已损坏,无法打开({type(err).__name__})", source=shown
        ) from None
    numbering = _Numbering(document)
    blocks: list[Block] = []
    paragraphs = tables = 0
    for child in document.element.body.iterchildren():
        if child.tag == f"{_W}p":
            paragraph = Paragraph(child, document)
            text = (numbering.label(paragraph) + paragraph.text).strip()
            if text:
                paragraphs += 1
                blocks.append(Block(text, f"第{paragraphs}段"))
        elif child.tag == f"{_W}tbl":
            tables += 1
            for number, row in enumerate(Table(child, document).rows, 1):
                cells = [_cell_text(cell) for cell in row.cells]
                if any(cells):
                    blocks.append(
                        Block("\t".join(cells), f"表{tables} 第{number}行", "row",
                              table=tables, row=number)
                    )
    return PlanDocument(shown, format_name, blocks)


def _cell_text(cell: Any) -> str:
    parts = [p.text.strip() for p in cell.paragraphs]
    return " ".join(p for p in parts if p).replace("\t", " ")


class _Numbering:
    """Renders Word's automatic list numbers (numbering.xml) as printed."""

    def __init__(self, document: Any) -> None:
        self.formats: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.counters: dict[str, dict[int, int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstracts: dict[str, dict[int, tuple[str, str, int]]] = {}
        for abstract in root.findall(f"{_W}abstractNum"):
            levels = {}
            for level in abstract.findall(f"{_W}lvl"):
                ilvl = int(level.get(f"{_W}ilvl", "0"))
                fmt = _val(level.find(f"{_W}numFmt")) or "decimal"
                text = _val(level.find(f"{_W}lvlText")) or ""
                start = int(_val(level.find(f"{_W}start")) or "1")
                levels[ilvl] = (fmt, text, start)
            abstracts[abstract.get(f"{_W}abstractNumId", "")] = levels
        for num in root.findall(f"{_W}num"):
            num_id = num.get(f"{_W}numId", "")
            abstract_id = _val(num.find(f"{_W}abstractNumId")) or ""
            for ilvl, spec in abstracts.get(abstract_id, {}).items():
                self.formats[(num_id, ilvl)] = spec

    def label(self, paragraph: Any) -> str:
        num_id, ilvl = self._num_pr(paragraph)
        if num_id is None or (num_id, ilvl) not in self.formats:
            return ""
        fmt, text, start = self.formats[(num_id, ilvl)]
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, start - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]
        if fmt in ("bullet", "none") or not text:
            return ""
        label = text
        for level in range(ilvl, -1, -1):
            value = counters.get(level, self.formats.get((num_id, level), ("", "", 1))[2])
            level_fmt = self.formats.get((num_id, level), (fmt, "", 1))[0]
            label = label.replace(f"%{level + 1}", _render(value, level_fmt))
        return label

    @staticmethod
    def _num_pr(paragraph: Any) -> tuple[str | None, int]:
        sources = [paragraph._p.pPr]
        style = paragraph.style
        while style is not None:
            sources.append(style.element.pPr)
            style = style.base_style
        for ppr in sources:
            if ppr is None:
                continue
            num_pr = ppr.find(f"{_W}numPr")
            if num_pr is not None:
                num_id = _val(num_pr.find(f"{_W}numId"))
                ilvl = int(_val(num_pr.find(f"{_W}ilvl")) or "0")
                if num_id and num_id != "0":
                    return num_id, ilvl
                return None, 0
        return None, 0


def _val(element: Any) -> str | None:
    return None if element is None else element.get(f"{_W}val")


def _render(value: int, fmt: str) -> str:
    if fmt.startswith(("chinese", "ideograph", "japanese", "taiwanese")):
        return _chinese(value)
    if fmt == "upperLetter":
        return chr(ord("A") + (value - 1) % 26)
    if fmt == "lowerLetter":
        return chr(ord("a") + (value - 1) % 26)
    if fmt == "decimalEnclosedCircle" and 1 <= value <= 20:
        return chr(0x2460 + value - 1)
    return str(value)


def _chinese(value: int) -> str:
    if value < 10:
        return _CN_DIGITS[value]
    tens, ones = divmod(value, 10)
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return f"{head}十{_CN_DIGITS[ones] if ones else ''}"
