"""Old Word (.doc) and WPS (.wps) plans: converted to .docx by LibreOffice, headless.

Without LibreOffice the error says what to install, or to save the file as .docx.
The conversion runs with its own throwaway profile (so it never clashes with a
running LibreOffice) and a time limit; a file LibreOffice cannot open (encrypted,
broken) yields a clear error, not a hang.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from duban.domain.errors import PlanParseError
from duban.services.plans.documents import PlanDocument
from duban.services.plans.documents.word import read_docx

CONVERT_SECONDS = 120
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def read_legacy_word(path: Path, shown: str) -> PlanDocument:
    kind = path.suffix.lower().lstrip(".") or "doc"
    with path.open("rb") as handle:
        head = handle.read(8)
    if head[:4] == b"PK\x03\x04":
        # a .docx saved with the old extension: read it as what it is
        return read_docx(path, shown, format_name=kind)
    if head != _OLE_MAGIC:
        raise PlanParseError(f"不是 Word/WPS 文档(.{kind} 文件头不对)", source=shown)
    soffice = soffice_path()
    if soffice is None:
        raise PlanParseError(
            f"无法读取 .{kind} 文件:本机未安装 LibreOffice(Debian/Ubuntu:apt-get install "
            "libreoffice-writer-nogui);也可以在 Word 或 WPS 中“另存为” .docx 后再上传",
            source=shown,
        )
    with tempfile.TemporaryDirectory(prefix="duban-convert-") as folder:
        work = Path(folder)
        source = work / "plan.doc"  # WPS text files are Word binaries; a plain name
        shutil.copyfile(path, source)
        command = [
            soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
            "--norestore", "--nolockcheck", "--convert-to", "docx:MS Word 2007 XML",
            "--outdir", str(work / "out"), str(source),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=CONVERT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise PlanParseError(
                f"LibreOffice 转换超过 {CONVERT_SECONDS} 秒未完成(文件可能已加密或已损坏)",
                source=shown,
            ) from None
        converted = work / "out" / "plan.docx"
        if not converted.is_file():
            raise PlanParseError(
                f"LibreOffice 无法把 .{kind} 转换为 .docx(文件可能已加密或已损坏);"
                "请在 Word 或 WPS 中另存为 .docx 后再上传",
                source=shown,
            )
        return read_docx(converted, shown, format_name=kind)
