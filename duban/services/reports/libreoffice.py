"""PDFs by LibreOffice: ``soffice --headless --convert-to pdf``.

LibreOffice runs with a profile of its own in the data directory, one
conversion at a time per installation (a file lock), since two instances
cannot share a profile. Without LibreOffice, :class:`ConverterMissing` says in
Chinese what to install.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from duban.domain.errors import DubanError

CONVERT_TIMEOUT = 180


class ConverterMissing(DubanError):
    """LibreOffice is not installed: PDFs cannot be made (the .docx can)."""


def find_soffice(configured: str | None = None) -> str:
    """LibreOffice's converter: ``configured`` (DUBAN_SOFFICE) or soffice /
    libreoffice on PATH; ConverterMissing otherwise."""
    if configured:
        found = shutil.which(configured)
    else:
        found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        where = f"(DUBAN_SOFFICE={configured} 不可执行)" if configured else ""
        raise ConverterMissing(
            f"未找到 LibreOffice{where},无法生成 PDF。请安装 LibreOffice Writer"
            "(Debian/Ubuntu:apt-get install libreoffice-writer-nogui fonts-wqy-microhei),"
            "或改为下载 .docx 版本。"
        )
    return found


def convert_to_pdf(source: Path, out_dir: Path, *, data_dir: Path,
                   soffice: str | None = None) -> Path:
    """``source`` (.docx) converted to ``out_dir/<stem>.pdf`` by LibreOffice."""
    program = find_soffice(soffice)
    profile = data_dir / "libreoffice-profile"
    with _profile_lock(data_dir):
        try:
            done = subprocess.run(
                [program, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless",
                 "--norestore", "--convert-to", "pdf", "--outdir", str(out_dir), str(source)],
                capture_output=True, timeout=CONVERT_TIMEOUT, check=False,
            )
        except subprocess.TimeoutExpired:
            raise DubanError(f"PDF 生成超时(LibreOffice 超过 {CONVERT_TIMEOUT} 秒未完成)") from None
    result = out_dir / f"{source.stem}.pdf"
    if done.returncode != 0 or not result.is_file():
        detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-300:]
        raise DubanError(f"PDF 生成失败:LibreOffice 未能转换文书({detail or '无输出'})")
    return result


@contextmanager
def _profile_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "libreoffice-profile.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
