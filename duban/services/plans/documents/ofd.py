"""OFD plans (GB/T 33190) with the standard library: the package is a zip of XML.

``OFD.xml`` names the document root (``DocBody/DocRoot``); its ``Document.xml`` lists
the pages (``Pages/Page@BaseLoc``); each page's ``Content.xml`` holds ``TextObject``
elements (``Boundary="x y w h"``, ``Size``) with ``TextCode`` runs (``X``, ``Y`` offsets).
Runs on one baseline make a line (a wide gap between runs becomes a TAB, so a table's
cells stay apart); lines then go through :mod:`layout` like a PDF's. Page templates
(running headers, page numbers) are not read. Why not a library such as easyofd: it
renders OFD to images/PDF through PyMuPDF and more; reading text needs only this.
"""

from __future__ import annotations

import posixpath
import zipfile
from itertools import pairwise
from pathlib import Path
from xml.etree import ElementTree

from duban.domain.errors import PlanParseError
from duban.services.plans.documents import PlanDocument
from duban.services.plans.documents.layout import Line, Page, page_blocks

_NS = "{http://www.ofdspec.org/2016}"


def read_ofd(path: Path, shown: str) -> PlanDocument:
    if not zipfile.is_zipfile(path):
        raise PlanParseError("不是 OFD 文件(OFD 应为 zip 压缩格式)", source=shown)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "OFD.xml" not in names:
                raise PlanParseError("不是 OFD 文件:压缩包中没有 OFD.xml", source=shown)
            if any("encrypt" in n.lower() for n in names):
                raise PlanParseError("OFD 文件已加密,无法读取;请提供未加密的文件", source=shown)
            pages = _pages(archive, names, shown)
    except zipfile.BadZipFile:
        raise PlanParseError("OFD 文件已损坏,无法读取", source=shown) from None
    except ElementTree.ParseError as err:
        raise PlanParseError(f"OFD 文件的 XML 无效({err})", source=shown) from None
    if not any(page.lines for page in pages):
        raise PlanParseError(
            "OFD 中没有文字(可能是扫描件或图片),无法识别文字;本系统不做文字识别(OCR)",
            source=shown,
        )
    return PlanDocument(shown, "ofd", page_blocks(pages))


def _read_xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    return ElementTree.fromstring(archive.read(name))


def _resolve(base_dir: str, location: str) -> str:
    location = location.strip()
    if location.startswith("/"):
        return location.lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, location))


def _pages(archive: zipfile.ZipFile, names: set[str], shown: str) -> list[Page]:
    root = _read_xml(archive, "OFD.xml")
    doc_root = root.find(f"{_NS}DocBody/{_NS}DocRoot")
    if doc_root is None or not (doc_root.text or "").strip():
        raise PlanParseError("OFD 文件缺少文档入口(DocRoot)", source=shown)
    document_name = _resolve("", doc_root.text or "")
    document = _read_xml(archive, document_name)
    document_dir = posixpath.dirname(document_name)
    box = document.findtext(f"{_NS}CommonData/{_NS}PageArea/{_NS}PhysicalBox") or "0 0 210 297"
    default_height = float(box.split()[3])
    pages: list[Page] = []
    for number, page_ref in enumerate(document.iter(f"{_NS}Page"), 1):
        location = _resolve(document_dir, page_ref.get("BaseLoc", ""))
        if location not in names:
            raise PlanParseError(f"OFD 第{number}页的内容文件缺失({location})", source=shown)
        content = _read_xml(archive, location)
        page_box = content.findtext(f"{_NS}Area/{_NS}PhysicalBox")
        height = float(page_box.split()[3]) if page_box else default_height
        pages.append(Page(number=number, height=height, lines=_lines(content)))
    return pages


def _lines(content: ElementTree.Element) -> list[Line]:
    runs: list[tuple[float, float, float, float, str]] = []  # baseline, x0, x1, size, text
    for text_object in content.iter(f"{_NS}TextObject"):
        bx, by, _bw, _bh = (float(v) for v in text_object.get("Boundary", "0 0 0 0").split()[:4])
        size = float(text_object.get("Size", "3.5"))
        for code in text_object.iter(f"{_NS}TextCode"):
            text = code.text or ""
            if not text.strip():
                continue
            x = bx + float(code.get("X", "0"))
            y = by + float(code.get("Y", "0"))
            deltas = _deltas(code.get("DeltaX", ""))
            width = sum(deltas[: len(text) - 1]) + size if deltas else size * len(text)
            runs.append((y, x, x + width, size, text))
    runs.sort(key=lambda r: (round(r[0], 1), r[1]))
    lines: list[Line] = []
    current: list[tuple[float, float, float, float, str]] = []
    for run in runs:
        if current and abs(run[0] - current[0][0]) > current[0][3] * 0.4:
            lines.append(_line(current))
            current = []
        current.append(run)
    if current:
        lines.append(_line(current))
    return lines


def _deltas(raw: str) -> list[float]:
    """DeltaX offsets, with "g N D" meaning N offsets of D."""
    tokens = raw.split()
    deltas: list[float] = []
    index = 0
    while index < len(tokens):
        if tokens[index] == "g" and index + 2 < len(tokens):
            deltas += [float(tokens[index + 2])] * int(float(tokens[index + 1]))
            index += 3
        else:
            try:
                deltas.append(float(tokens[index]))
            except ValueError:
                pass
            index += 1
    return deltas


def _line(runs: list[tuple[float, float, float, float, str]]) -> Line:
    runs.sort(key=lambda r: r[1])
    text = runs[0][4]
    for before, run in pairwise(runs):
        gap = run[1] - before[2]
        text += ("\t" if gap > 2 * run[3] else "") + run[4]
    baseline, size = runs[0][0], runs[0][3]
    return Line(text, runs[0][1], runs[-1][2], baseline - size, baseline)
