"""Documents that cannot be a plan are refused in Chinese, naming the file and what is
wrong; the command exits 1 and writes nothing. A 50 MB file is refused from its size:
reading it costs no memory."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from duban.domain.errors import PlanParseError
from duban.services.plans.documents import read_plan_document
from duban.services.plans.documents.legacy import soffice_path
from duban.services.plans.files import parse_plan_file
from tests.documents.render import write_docx, write_pdf

PLAN = "某工作方案\n一、总体\n1.推进甲工作。(市发改委牵头,市财政局配合)\n"


def image_only_pdf(path: Path) -> Path:
    """A scan: one page that is a picture of text, no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(picture).rectangle((20, 20, 380, 60), fill="black")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    page = canvas.Canvas(str(path))
    page.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 72, 500, width=400, height=200)
    page.save()
    return path


def encrypted_docx(path: Path) -> Path:
    """What Word writes for a password-protected .docx: an OLE compound file whose
    directory holds an EncryptedPackage stream (here only the parts we look at)."""
    directory = "EncryptedPackage".encode("utf-16-le").ljust(64, b"\0")
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + directory)
    return path


def zip_of_something_else(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photos/IMG_0001.jpg", b"\xff\xd8\xff\xe0not really a jpeg")
    return path


def table_without_lead(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("某区重点任务分工方案")
    table = document.add_table(rows=2, cols=4)
    for cell, text in zip(table.rows[0].cells, ["序号", "工作任务", "配合单位", "完成时限"],
                          strict=True):
        cell.text = text
    for cell, text in zip(table.rows[1].cells, ["1", "推进甲工作", "区财政局", "2025年底前"],
                          strict=True):
        cell.text = text
    document.save(str(path))
    return path


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


BAD = [
    pytest.param(lambda d: write_pdf(PLAN, d / "加密.pdf", encrypt="secret"),
                 "PDF 已加密", id="encrypted-pdf"),
    pytest.param(lambda d: encrypted_docx(d / "加密.docx"), "Word 文档已加密", id="encrypted-docx"),
    pytest.param(lambda d: zip_of_something_else(d / "照片.docx"), "没有 word/document.xml",
                 id="docx-that-is-another-zip"),
    pytest.param(lambda d: image_only_pdf(d / "扫描件.pdf"), "没有文字层", id="scanned-pdf"),
    pytest.param(lambda d: sparse(d / "巨大.pdf", 50 * 1024 * 1024), "文件过大",
                 id="50-MB-pdf"),
    pytest.param(lambda d: sparse(d / "巨大.txt", 50 * 1024 * 1024), "文件过大",
                 id="50-MB-text"),
    pytest.param(lambda d: table_without_lead(d / "分工表.docx"), "没有“牵头单位”或“责任单位”列",
                 id="table-without-lead-column"),
    pytest.param(lambda d: written(d / "方案.xlsx", b"PK"), "不支持的文件类型",
                 id="unknown-extension"),
    pytest.param(lambda d: written(d / "假的.pdf", b"<html>not a pdf</html>"), "不是 PDF 文件",
                 id="not-a-pdf"),
]


@pytest.mark.parametrize(("make", "message"), BAD)
def test_bad_document_is_refused_naming_file_and_fault(
    make, message: str, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    path = make(tmp_path)
    with pytest.raises(PlanParseError) as caught:
        parse_plan_file(path)
    assert message in caught.value.message
    assert path.name in str(caught.value)


def test_a_50_mb_file_costs_no_memory(tmp_path: Path) -> None:
    path = sparse(tmp_path / "巨大.pdf", 50 * 1024 * 1024)
    tracemalloc.start()
    with pytest.raises(PlanParseError):
        read_plan_document(path)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 256 * 1024  # the text path read it whole: 50 MB and more


def test_the_command_exits_1_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from duban.cli import main

    bad = write_pdf(PLAN, tmp_path / "加密.pdf", encrypt="secret")
    out = tmp_path / "draft.yaml"
    monkeypatch.setattr(sys, "argv", ["duban", "plan", "parse", str(bad), "--out", str(out)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    stderr = capsys.readouterr().err
    assert "加密.pdf" in stderr and "PDF 已加密" in stderr
    assert not out.exists()


def test_without_libreoffice_a_doc_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "旧方案.doc"
    doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice on this PATH
    with pytest.raises(PlanParseError) as caught:
        read_plan_document(doc)
    assert "未安装 LibreOffice" in caught.value.message and "另存为" in caught.value.message


@pytest.mark.skipif(soffice_path() is None, reason="LibreOffice (soffice) is not installed")
def test_a_doc_reads_like_the_docx_it_was_saved_from(tmp_path: Path) -> None:
    from tests.plan_corpus import corpus_documents

    document = next(d for d in corpus_documents() if d.table)
    docx_path = write_docx(document.text, tmp_path / "plan.docx", table=True)
    subprocess.run(
        [soffice_path() or "soffice", f"-env:UserInstallation={(tmp_path / 'p').as_uri()}",
         "--headless", "--convert-to", "doc:MS Word 97", "--outdir", str(tmp_path),
         str(docx_path)],
        capture_output=True, timeout=180, check=True, env={**os.environ, "HOME": str(tmp_path)},
    )
    from_doc = parse_plan_file(tmp_path / "plan.doc")[0]
    from_docx = parse_plan_file(docx_path)[0]
    assert from_doc.source_format == "doc"
    assert [(m.label, m.lead, m.supporting) for m in from_doc.measures] == [
        (m.label, m.lead, m.supporting) for m in from_docx.measures
    ]
    assert from_doc.measures[0].where.startswith("表1 ")


def test_word_list_numbering_reads_as_printed(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("某工作方案")
    document.add_paragraph("一、总体要求")
    document.add_paragraph("推进甲工作。(市发改委牵头,市财政局配合)", style="List Number")
    document.add_paragraph("推进乙工作。(市民政局牵头)", style="List Number")
    document.save(str(tmp_path / "编号.docx"))
    draft, text = parse_plan_file(tmp_path / "编号.docx")
    assert "1.推进甲工作" in text and "2.推进乙工作" in text
    assert [(m.number, m.lead) for m in draft.measures] == [(1, ["市发改委"]), (2, ["市民政局"])]
