"""PDF plans with pdfplumber: the text layer, page by page, with ruled tables.

Each page's ruled tables are extracted as rows; the text outside them as lines with
positions, which :mod:`layout` joins into paragraphs (dropping page furniture). Pages
are read and released one at a time, so memory follows one page, not the file. A PDF
with no text at all is a scan (no OCR here); one that needs a password to open is
refused; owner-password-only PDFs (printing restrictions) read normally.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from duban.domain.errors import PlanParseError
from duban.services.plans.documents import PlanDocument
from duban.services.plans.documents.layout import Line, Page, TableItem, page_blocks


def read_pdf(path: Path, shown: str) -> PlanDocument:
    with path.open("rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" not in head:
        raise PlanParseError("不是 PDF 文件(文件头不是 %PDF)", source=shown)
    import pdfplumber
    from pdfplumber.utils.exceptions import PdfminerException

    pages: list[Page] = []
    chars = 0
    unmapped = 0
    try:
        with pdfplumber.open(path) as pdf:
            for number, page in enumerate(pdf.pages, 1):
                reading, page_chars, page_unmapped = _read_page(page, number)
                pages.append(reading)
                chars += page_chars
                unmapped += page_unmapped
                page.close()
    except PdfminerException as err:  # pdfplumber wraps pdfminer's errors
        raise _pdf_error(err.args[0] if err.args else err, shown) from None
    if chars == 0:
        raise PlanParseError(
            "PDF 没有文字层(可能是扫描件或图片),无法识别文字;本系统不做文字识别(OCR),"
            "请提供 Word 文件或含文字的 PDF",
            source=shown,
        )
    if unmapped > chars * 0.2:
        raise PlanParseError(
            "PDF 的文字无法还原(字体缺少 Unicode 映射);请提供 Word 文件或重新导出的 PDF",
            source=shown,
        )
    return PlanDocument(shown, "pdf", page_blocks(pages))


def _pdf_error(cause: object, shown: str) -> PlanParseError:
    name = type(cause).__name__
    if name == "PDFPasswordIncorrect":
        return PlanParseError("PDF 已加密,需要密码才能打开;请提供未加密的文件", source=shown)
    if name == "PDFEncryptionError":
        return PlanParseError(f"PDF 的加密方式无法读取({cause})", source=shown)
    return PlanParseError(f"PDF 文件已损坏,无法读取({name})", source=shown)


def _read_page(page: Any, number: int) -> tuple[Page, int, int]:
    reading = Page(number=number, height=float(page.height))
    found = page.find_tables()
    boxes = [table.bbox for table in found]
    for table in found:
        reading.tables.append(TableItem(top=float(table.bbox[1]), rows=table.extract()))
    outside = page
    if boxes:
        outside = page.filter(lambda obj: not any(_inside(obj, box) for box in boxes))
    for line in outside.extract_text_lines(strip=True, return_chars=False):
        reading.lines.append(
            Line(line["text"], float(line["x0"]), float(line["x1"]), float(line["top"]),
                 float(line["bottom"]))
        )
    chars = len(page.chars)
    unmapped = sum(1 for c in page.chars if str(c.get("text", "")).startswith("(cid:"))
    return reading, chars, unmapped


def _inside(obj: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    if "x0" not in obj or "top" not in obj:
        return False
    x = (float(obj["x0"]) + float(obj.get("x1", obj["x0"]))) / 2
    y = (float(obj["top"]) + float(obj.get("bottom", obj["top"]))) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]
