"""Issued documents as files: .docx (python-docx) and PDF (LibreOffice).

One template per document: :func:`notice_docx` and :func:`bulletin_docx` lay
out a 督办单 or a 督查通报 on A4 as Chinese official documents are laid out
(the issuer, the title in the kind's colour, the 文号, a table of 督办事项 /
责任单位 / 办理时限 / 督办意见 / 反馈要求 / 签发, page numbers). The PDF is that
same .docx converted by LibreOffice (``soffice --headless --convert-to pdf``),
so the two never differ. Fonts are named as offices have them (方正小标宋简体,
仿宋_GB2312, 黑体); where they are missing LibreOffice substitutes an installed
CJK font (e.g. WenQuanYi).

PDFs are kept under ``DATA_DIR/documents/`` once made (an issued document
never changes); :mod:`duban.services.reports.libreoffice` converts them.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from duban.domain.errors import DubanError
from duban.domain.issued_documents import (
    BulletinContent,
    DocumentKind,
    NoticeContent,
    chinese_date,
)
from duban.services.reports.bulletin import BULLETIN_COUNTS
from duban.services.reports.issued_documents import IssuedView
from duban.services.reports.libreoffice import convert_to_pdf

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
LATIN_FONT = "Times New Roman"
RED = RGBColor(0xC0, 0x00, 0x00)
# The kind's colour: the title band and the label cells of its table.
BAND = {
    DocumentKind.NOTICE: ("FFFFFF", RED, "F2F2F2"),
    DocumentKind.YELLOW: ("FFD966", RGBColor(0x1F, 0x1F, 0x1F), "FFF2CC"),
    DocumentKind.RED: ("C00000", RGBColor(0xFF, 0xFF, 0xFF), "FADBD8"),
    DocumentKind.BULLETIN: ("FFFFFF", RED, "F2F2F2"),
}
# --- building blocks ---------------------------------------------------------------


def _font(run: Run, name: str, size: float, *, bold: bool = False,
          color: RGBColor | None = None) -> Run:
    run.font.name = LATIN_FONT
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)
    return run


def _para(container: DocumentObject | _Cell, text: str = "", *, font: str = BODY_FONT,
          size: float = 14, bold: bool = False, align: int | None = None,
          color: RGBColor | None = None, space_after: float = 0) -> Paragraph:
    paragraph = container.add_paragraph()
    if align is not None:
        paragraph.alignment = align  # type: ignore[assignment]
    paragraph.paragraph_format.space_after = Pt(space_after)
    paragraph.paragraph_format.space_before = Pt(0)
    if text:
        _font(paragraph.add_run(text), font, size, bold=bold, color=color)
    return paragraph


def _shade(element: object, fill: str) -> None:
    """Fill a paragraph (pPr) or a table cell (tcPr) with ``fill`` (hex RGB)."""
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    element.append(shading)  # type: ignore[attr-defined]


def _field(paragraph: Paragraph, code: str, size: float) -> None:
    """A field (PAGE, NUMPAGES) that Word and LibreOffice fill in when printing."""
    for kind, text in (("begin", None), (None, code), ("end", None)):
        run = _font(paragraph.add_run(), BODY_FONT, size)
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._element.append(char)
        else:
            instruction = OxmlElement("w:instrText")
            instruction.set(qn("xml:space"), "preserve")
            instruction.text = f" {text} "
            run._element.append(instruction)


def _new_document() -> DocumentObject:
    """An A4 portrait document with the body font, Chinese language and a
    ``第 X 页 共 Y 页`` footer."""
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(30), Mm(25)
    section.left_margin, section.right_margin = Mm(26), Mm(24)
    normal = document.styles["Normal"]
    normal.font.name = LATIN_FONT  # type: ignore[attr-defined]
    normal.font.size = Pt(14)  # type: ignore[attr-defined]
    properties = normal.element.get_or_add_rPr()  # type: ignore[attr-defined]
    properties.get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    language = OxmlElement("w:lang")
    language.set(qn("w:val"), "en-US")
    language.set(qn("w:eastAsia"), "zh-CN")
    properties.append(language)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(footer.add_run("第 "), BODY_FONT, 10.5)
    _field(footer, "PAGE", 10.5)
    _font(footer.add_run(" 页 共 "), BODY_FONT, 10.5)
    _field(footer, "NUMPAGES", 10.5)
    _font(footer.add_run(" 页"), BODY_FONT, 10.5)
    return document


def _heading(document: DocumentObject, issuer: str, title: str, kind: DocumentKind,
             number: str) -> None:
    band, ink, _label = BAND[kind]
    _para(document, issuer, font=TITLE_FONT, size=16, align=WD_ALIGN_PARAGRAPH.CENTER,
          color=RED, space_after=6)
    spaced = " ".join(title) if len(title) <= 6 else title
    heading = _para(document, spaced, font=TITLE_FONT, size=26, bold=True,
                    align=WD_ALIGN_PARAGRAPH.CENTER, color=ink, space_after=6)
    if band != "FFFFFF":
        _shade(heading._p.get_or_add_pPr(), band)
    rule = _para(document, number, size=14, align=WD_ALIGN_PARAGRAPH.RIGHT, space_after=12)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "18"), ("space", "4"), ("color", "C00000")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    # The paragraph's properties in schema order: borders before spacing and jc.
    rule._p.get_or_add_pPr().insert_element_before(borders, "w:shd", "w:spacing", "w:jc")


def _widths(table: Table, widths: list[float]) -> None:
    """Column widths in cm, as the grid (which LibreOffice reads) and per cell."""
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)


def _table(document: DocumentObject, rows: list[tuple[str, list[str]]],
           label_fill: str) -> None:
    """A two-column form: a shaded label cell, then one paragraph per line."""
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, [3.2, 12.8])
    for label, lines in rows:
        cells = table.add_row().cells
        cells[0].width, cells[1].width = Cm(3.2), Cm(12.8)
        cells[0].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(cells[0].paragraphs[0].add_run(label), HEADING_FONT, 14)
        _shade(cells[0]._tc.get_or_add_tcPr(), label_fill)
        first = True
        for line in lines or [""]:
            paragraph = cells[1].paragraphs[0] if first else cells[1].add_paragraph()
            first = False
            paragraph.paragraph_format.space_after = Pt(2)
            _font(paragraph.add_run(line), BODY_FONT, 14)


# --- the two templates -------------------------------------------------------------


def notice_docx(content: NoticeContent) -> DocumentObject:
    """A 督办通知单 / 黄色督办单 / 红色督办单 (see the module doc)."""
    document = _new_document()
    _heading(document, content.issuer, content.title, content.kind, content.number)
    _para(document, f"{content.department}:", size=16, space_after=6)
    items: list[str] = []
    for index, item in enumerate(content.items, start=1):
        prefix = f"{index}. " if len(content.items) > 1 else ""
        items.append(f"{prefix}措施{item.measure} {item.measure_title}({item.role_label})")
        items.extend(f"    {target}" for target in item.targets[:3])
    limits = [
        (f"措施{i.measure}:" if len(content.items) > 1 else "") + i.time_limit
        for i in content.items
    ]
    history = sorted({mark for item in content.items for mark in item.escalations})
    rows: list[tuple[str, list[str]]] = [
        ("督办事项", items),
        ("所属方案", [content.plan_title]),
        ("责任单位", [content.department]),
        ("办理时限", limits),
        ("督办情况", ["、".join(history)] if history else ["首次督办"]),
        ("督办意见", content.opinion.splitlines() or [""]),
        ("反馈要求", [
            f"请于{chinese_date(content.reply_by)}前将办理情况书面反馈{content.issuer},"
            "并通过督办系统报送进展或报结。"
        ]),
        ("签    发", [f"{content.signer}    {chinese_date(content.issued_on)}"]),
    ]
    _table(document, rows, BAND[content.kind][2])
    _para(document, space_after=12)
    _para(document, content.issuer, size=16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(document, chinese_date(content.issued_on), size=16, align=WD_ALIGN_PARAGRAPH.RIGHT,
          space_after=12)
    if content.copy_to:
        _para(document, f"抄送:{'、'.join(content.copy_to)}", size=12)
    return document


def bulletin_docx(content: BulletinContent) -> DocumentObject:
    """A 督查通报: counts, the late units, the 约谈 list and the requirements."""
    document = _new_document()
    _heading(document, content.issuer, content.title, DocumentKind.BULLETIN, content.number)
    about = content.plan_title.removeprefix("关于")
    _para(document, f"关于{about}落实情况的督查通报", font=TITLE_FONT, size=18,
          align=WD_ALIGN_PARAGRAPH.CENTER, space_after=4)
    _para(document, f"({content.period_label})", size=14, align=WD_ALIGN_PARAGRAPH.CENTER,
          space_after=10)
    counts = content.counts
    _section(document, "一、总体情况")
    _body(document, (
        f"截至{chinese_date(content.issued_on)},工作方案共分解任务{counts['tasks']}项,"
        f"已到期{counts['due']}项。其中已办结{counts['approved']}项(按期办结{counts['on_time']}项),"
        f"已报结待审核{counts['submitted']}项,逾期未办结{counts['overdue']}项,"
        f"未到期在办{counts['not_due']}项。按灯色统计,红灯{counts['red']}项、"
        f"黄灯{counts['yellow']}项、绿灯{counts['green']}项。{content.period_label},共发出催办"
        f"{counts['urge']}次、"
        f"黄色督办{counts['escalate_yellow']}次、红色督办{counts['escalate_red']}次。"
    ))
    pairs = list(BULLETIN_COUNTS.items())
    half = (len(pairs) + 1) // 2
    _grid(document, ["项目", "数量", "项目", "数量"], [
        [pairs[i][1], str(counts[pairs[i][0]]),
         pairs[i + half][1] if i + half < len(pairs) else "",
         str(counts[pairs[i + half][0]]) if i + half < len(pairs) else ""]
        for i in range(half)
    ], [5.0, 3.0, 5.0, 3.0])
    _section(document, "二、逾期未办结单位")
    if content.late_units:
        _grid(document, ["序号", "责任单位", "逾期任务", "最长逾期", "逾期事项"], [
            [str(i), u.department, f"{u.tasks}项", f"{u.longest_days}个工作日",
             "、".join(u.measures)]
            for i, u in enumerate(content.late_units, start=1)
        ], [1.2, 4.2, 1.8, 2.4, 6.4])
    else:
        _body(document, "本期无逾期未办结单位。")
    _section(document, "三、约谈名单")
    if content.interviews:
        _body(document, "以下单位本期经红色督办仍未办结,由督查室约谈单位主要负责人:")
        _grid(document, ["序号", "责任单位", "事项", "红色督办日期"], [
            [str(i), e.department, "、".join(e.measures), e.first_on.isoformat()]
            for i, e in enumerate(content.interviews, start=1)
        ], [1.2, 5.0, 6.6, 3.2])
    else:
        _body(document, "本期无约谈单位。")
    if content.done_units:
        _section(document, "四、按期办结单位")
        _body(document, "以下单位到期任务均已按期办结,予以通报表扬:"
              + "、".join(content.done_units) + "。")
    _section(document, "五、下一步要求" if content.done_units else "四、下一步要求")
    for index, line in enumerate(content.requirements, start=1):
        _body(document, f"({_CN_NUMBERS[index]}){line}")
    _para(document, space_after=12)
    _para(document, content.issuer, size=16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(document, chinese_date(content.issued_on), size=16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    return document


_CN_NUMBERS = "〇一二三四五六七八九十"


def _section(document: DocumentObject, text: str) -> None:
    heading = _para(document, text, font=HEADING_FONT, size=16, space_after=4)
    heading.paragraph_format.keep_with_next = True


def _body(document: DocumentObject, text: str) -> None:
    paragraph = _para(document, text, size=16, space_after=4)
    paragraph.paragraph_format.first_line_indent = Pt(32)
    paragraph.paragraph_format.line_spacing = Pt(28)


def _grid(document: DocumentObject, header: list[str], rows: list[list[str]],
          widths: list[float]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, widths)
    for index, label in enumerate(header):
        cell = table.rows[0].cells[index]
        cell.width = Cm(widths[index])
        _font(cell.paragraphs[0].add_run(label), HEADING_FONT, 12)
        _shade(cell._tc.get_or_add_tcPr(), "F2F2F2")
    for values in rows:
        cells = table.add_row().cells
        for index, value in enumerate(values):
            cells[index].width = Cm(widths[index])
            _font(cells[index].paragraphs[0].add_run(value), BODY_FONT, 12)
    _para(document, space_after=4)


# --- files ---------------------------------------------------------------------------


def docx_bytes(view: IssuedView) -> bytes:
    """The document as a .docx file's bytes."""
    content = view.content
    document = (bulletin_docx(content) if isinstance(content, BulletinContent)
                else notice_docx(content))
    document.core_properties.title = f"{view.kind.label} {view.number}"
    document.core_properties.author = content.issuer
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_bytes(view: IssuedView, *, data_dir: Path, soffice: str | None = None) -> bytes:
    """The document as PDF: its .docx converted by LibreOffice, kept in
    ``DATA_DIR/documents/<id>.pdf`` after the first time. Raises
    ConverterMissing (a Chinese message saying what to install) without
    LibreOffice, DubanError when the conversion fails."""
    folder = data_dir / "documents"
    cached = folder / f"{view.id}.pdf"
    if cached.is_file() and cached.stat().st_size > 0:
        return cached.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        source = Path(work) / f"document-{view.id}.docx"
        source.write_bytes(docx_bytes(view))
        pdf = convert_to_pdf(source, Path(work), data_dir=data_dir, soffice=soffice)
        shutil.move(pdf, cached)
    return cached.read_bytes()


def write_document(view: IssuedView, path: Path, *, data_dir: Path,
                   soffice: str | None = None) -> Path:
    """Write the document to ``path``: .docx or .pdf by its suffix; DubanError
    for any other suffix (nothing written)."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        data = docx_bytes(view)
    elif suffix == ".pdf":
        data = pdf_bytes(view, data_dir=data_dir, soffice=soffice)
    else:
        raise DubanError(f"输出文件“{path.name}”的扩展名应为 .docx 或 .pdf")
    path.write_bytes(data)
    return path
