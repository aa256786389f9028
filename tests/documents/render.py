"""Print the corpus plans as Word, PDF, OFD and web pages, the way offices do, so
tests can read them back: running headers and page numbers on every PDF/OFD page,
paragraphs wrapped over lines and pages with a first-line indent, and — for the
分工方案 of the corpus — the tasks in a responsibility table (序号 / 任务 / one
column per responsibility label the plan uses)."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = "某某市人民政府办公室"
_ITEM = re.compile(r"^\s*(\d{1,3})[.、．]\s*(.+)$")
_LABEL = re.compile(r"^\s*([\u4e00-\u9fff]{2,8})[:：](.+)$")


@dataclass
class Layout:
    """A plan's lines, with its items gathered into a table when ``table``."""

    before: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def pieces(text: str) -> list[str | list[list[str]]]:
    """The text as paragraphs and tables: lines with TABs are a table's rows (as a
    published table was read); a short line between rows is a merged row across the
    table (a section of it), printed as a row with only its first cell filled."""
    lines = paragraphs(text)
    out: list[str | list[list[str]]] = []
    for index, line in enumerate(lines):
        inside = (
            out and isinstance(out[-1], list) and len(line) <= 40
            and any("\t" in x for x in lines[index + 1 : index + 4])
        )
        if "\t" in line or inside:
            if not (out and isinstance(out[-1], list)):
                out.append([])
            rows = out[-1]
            assert isinstance(rows, list)
            width = len(rows[0]) if rows else len(line.split("\t"))
            cells = line.split("\t")
            rows.append(cells + [""] * (width - len(cells)))
        else:
            out.append(line)
    return out


def table_layout(text: str) -> Layout:
    """Lines before the first item, the items as rows (序号, task, one cell per label)."""
    layout = Layout()
    lines = paragraphs(text)
    index = 0
    while index < len(lines) and not _ITEM.match(lines[index]):
        layout.before.append(lines[index])
        index += 1
    row: dict[str, str] | None = None
    items: list[dict[str, str]] = []
    for line in lines[index:]:
        item = _ITEM.match(line)
        label = _LABEL.match(line)
        if item:
            row = {"序号": item.group(1), "任务": item.group(2)}
            items.append(row)
        elif label and row is not None:
            name = label.group(1)
            if name not in layout.columns:
                layout.columns.append(name)
            row[name] = label.group(2).strip()
        else:
            layout.after.append(line)
    layout.columns = ["序号", "工作任务", *layout.columns]
    layout.rows = [
        [r["序号"], r["任务"], *(r.get(c, "") for c in layout.columns[2:])] for r in items
    ]
    return layout


# --- Word -------------------------------------------------------------------------
def write_docx(text: str, path: Path, *, table: bool = False) -> Path:
    import docx

    document = docx.Document()
    if table:
        layout = table_layout(text)
        for line in layout.before:
            document.add_paragraph(line)
        grid = document.add_table(rows=1, cols=len(layout.columns))
        grid.style = "Table Grid"
        for cell, name in zip(grid.rows[0].cells, layout.columns, strict=True):
            cell.text = name
        for values in layout.rows:
            cells = grid.add_row().cells
            for cell, value in zip(cells, values, strict=True):
                cell.text = value
        for line in layout.after:
            document.add_paragraph(line)
    else:
        for piece in pieces(text):
            if isinstance(piece, str):
                document.add_paragraph(piece)
                continue
            grid = document.add_table(rows=0, cols=len(piece[0]))
            grid.style = "Table Grid"
            for values in piece:
                cells = grid.add_row().cells
                for cell, value in zip(cells, values, strict=True):
                    cell.text = value
    section = document.sections[0]
    section.header.paragraphs[0].text = HEADER  # not body text: never read
    document.save(str(path))
    return path


# --- PDF --------------------------------------------------------------------------
def write_pdf(text: str, path: Path, *, table: bool = False, encrypt: str | None = None) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    body = ParagraphStyle("body", fontName="STSong-Light", fontSize=16, leading=28,
                          firstLineIndent=32, wordWrap="CJK")
    small = ParagraphStyle("cell", fontName="STSong-Light", fontSize=11, leading=15,
                           wordWrap="CJK")

    def furniture(canvas, document) -> None:  # type: ignore[no-untyped-def]
        canvas.setFont("STSong-Light", 10)
        canvas.drawCentredString(A4[0] / 2, A4[1] - 40, HEADER)
        canvas.drawCentredString(A4[0] / 2, 30, f"- {document.page} -")

    flow = []
    if table:
        layout = table_layout(text)
        flow += [Paragraph(escape(line), body) for line in layout.before]
        width = A4[0] - 144
        rest = (width - 36 - width * 0.4) / max(1, len(layout.columns) - 2)
        widths = [36, width * 0.4, *([rest] * (len(layout.columns) - 2))]
        data = [[Paragraph(escape(v), small) for v in row]
                for row in [layout.columns, *layout.rows]]
        grid = Table(data, colWidths=widths, repeatRows=1)
        grid.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.6, colors.black)]))
        flow.append(grid)
        flow += [Paragraph(escape(line), body) for line in layout.after]
    else:
        width = A4[0] - 144
        for piece in pieces(text):
            if isinstance(piece, str):
                flow.append(Paragraph(escape(piece), body))
                continue
            columns = len(piece[0])
            grid = Table([[Paragraph(escape(v), small) for v in row] for row in piece],
                         colWidths=[width / columns] * columns, repeatRows=1)
            grid.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.6, colors.black)]))
            flow.append(grid)
    options = {"encrypt": encrypt} if encrypt else {}
    document = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=72, rightMargin=72,
                                 topMargin=72, bottomMargin=72, **options)
    document.build(flow, onFirstPage=furniture, onLaterPages=furniture)
    return path


# --- OFD --------------------------------------------------------------------------
_OFD_NS = "http://www.ofdspec.org/2016"


def write_ofd(text: str, path: Path, *, per_line: int = 28, lines_per_page: int = 16) -> Path:
    """An OFD package: one TextObject per printed line, 5 mm characters on A4, a
    running header and a page number on every page."""
    size, left, top, step = 5.0, 20.0, 30.0, 8.0
    pages: list[list[tuple[float, float, str]]] = [[]]
    for paragraph in paragraphs(text):
        wide = unicodedata.normalize("NFKC", paragraph)
        first, rest = wide[: per_line - 2], wide[per_line - 2 :]
        printed = [(left + 2 * size, first)]
        printed += [(left, rest[i : i + per_line]) for i in range(0, len(rest), per_line)]
        for x, chunk in printed:
            if len(pages[-1]) >= lines_per_page:
                pages.append([])
            pages[-1].append((x, top + step * len(pages[-1]), chunk))
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("OFD.xml", (
            f'{head}<ofd:OFD xmlns:ofd="{_OFD_NS}" Version="1.0" DocType="OFD"><ofd:DocBody>'
            "<ofd:DocInfo><ofd:DocID>1</ofd:DocID></ofd:DocInfo>"
            "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        ))
        page_refs = "".join(
            f'<ofd:Page ID="{i + 10}" BaseLoc="Pages/Page_{i}/Content.xml"/>'
            for i in range(len(pages))
        )
        archive.writestr("Doc_0/Document.xml", (
            f'{head}<ofd:Document xmlns:ofd="{_OFD_NS}"><ofd:CommonData>'
            "<ofd:MaxUnitID>9999</ofd:MaxUnitID><ofd:PageArea>"
            "<ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea></ofd:CommonData>"
            f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>"
        ))
        for number, lines in enumerate(pages):
            objects = [(100.0, 12.0, HEADER), (100.0, 285.0, f"- {number + 1} -"), *lines]
            body = "".join(
                f'<ofd:TextObject ID="{1000 + k}" Font="1" Size="{size}" '
                f'Boundary="{x} {y - size} {size * len(t)} {size * 1.2}">'
                f'<ofd:TextCode X="0" Y="{size}" DeltaX="g {len(t) - 1} {size}">{escape(t)}'
                "</ofd:TextCode></ofd:TextObject>"
                for k, (x, y, t) in enumerate(objects)
            )
            archive.writestr(f"Doc_0/Pages/Page_{number}/Content.xml", (
                f'{head}<ofd:Page xmlns:ofd="{_OFD_NS}"><ofd:Content>'
                f'<ofd:Layer ID="{number + 500}">{body}</ofd:Layer></ofd:Content></ofd:Page>'
            ))
    return path


# --- web page ---------------------------------------------------------------------
def write_html(text: str, path: Path, *, table: bool = False, encoding: str = "gb18030") -> Path:
    """A government site's page: navigation, the article inside a layout table, a
    footer; GBK-encoded as many such sites still are."""
    parts = ['<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
             "<title>政府信息公开</title><script>var x = '<p>不是正文</p>';</script></head><body>",
             '<div class="nav">首页 &gt; 政府信息公开 &gt; 政策文件</div>',
             '<table width="100%"><tr><td class="content">']
    if table:
        layout = table_layout(text)
        parts += [f"<p>{escape(line)}</p>" for line in layout.before]
        parts.append('<table border="1">')
        for row in [layout.columns, *layout.rows]:
            parts.append("<tr>" + "".join(f"<td><p>{escape(v)}</p></td>" for v in row) + "</tr>")
        parts.append("</table>")
        parts += [f"<p>{escape(line)}</p>" for line in layout.after]
    else:
        for piece in pieces(text):
            if isinstance(piece, str):
                parts.append(f'<p style="text-indent:2em">{escape(piece)}</p>')
                continue
            parts.append('<table border="1">')
            for row in piece:
                parts.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>")
            parts.append("</table>")
    parts += ["</td></tr></table>",
              "<div>版权所有 某某市人民政府 技术支持:某公司</div></body></html>"]
    path.write_bytes("\n".join(parts).encode(encoding, errors="strict"))
    return path
