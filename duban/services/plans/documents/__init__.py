"""Plan documents in: .txt, .docx, .pdf (text layer), .ofd, .html/.htm, and .doc/.wps
through LibreOffice — read into one shape the parser and the review page share.

The interface (``review`` builds on it):

* :class:`PlanDocument` — ``blocks``: the document in reading order, one
  :class:`Block` per paragraph or table row. ``document.text`` joins the blocks'
  texts with newlines, so **line N of the text is block N** (1-based): every line
  number the parser gives (``Measure.line``, ``end_line``, ``clause_line``,
  ``Target.line``, ``ParseWarning.line``) indexes ``blocks``. ``document.where(N)``
  is the block's provenance label, ``document.block(N)`` the block itself.
* :class:`Block` — ``text``: a paragraph as one line (PDF/OFD lines wrapped inside a
  paragraph, or across a page break, are joined; running headers, footers and page
  numbers are dropped), or a table row as its cells joined by TAB (a cell's own
  paragraphs joined by a space); ``where``: the provenance label shown to a person —
  ``第3行`` (text), ``第12段`` / ``表1 第4行`` (Word, HTML), ``第2页 第3段`` /
  ``第2页 表1 第4行`` (PDF, OFD); ``page`` (PDF/OFD) and ``table``/``row`` (table rows)
  as numbers; ``kind`` is ``"paragraph"`` or ``"row"``.

:func:`read_plan_document` picks the reader by the file's extension and checks the
content is what the extension says. Errors are :class:`PlanParseError` naming the file
and what is wrong (Chinese): a missing or empty file, a file over
:data:`MAX_DOCUMENT_BYTES` (refused from its size, before anything is read), an
encrypted or password-protected file, a .docx that is some other zip, a PDF without a
text layer (scanned: no OCR here), a .doc/.wps where LibreOffice is not installed, an
unknown extension.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from duban.domain.errors import PlanParseError

# A plan as a Word, PDF or OFD file is well under this (and under the web's 25 MB request
# limit, so the upload gets this message, not a bare 413); a larger file is refused
# from its size alone (nothing is read), so a stray 50 MB upload costs no memory.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# Text and web pages are read whole: plans in text are tiny.
MAX_TEXT_BYTES = 5 * 1024 * 1024
# More text than any plan has (a 1,000-page PDF): refused before parsing.
MAX_CHARACTERS = 2_000_000

FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".docx": "docx",
    ".pdf": "pdf",
    ".ofd": "ofd",
    ".html": "html",
    ".htm": "html",
    ".shtml": "html",
    ".doc": "doc",
    ".wps": "wps",
}


_LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")


@dataclass(frozen=True)
class Block:
    """One paragraph or table row of a document, with where it came from. Its text
    is one line (line breaks inside a paragraph become spaces)."""

    text: str
    where: str
    kind: str = "paragraph"
    page: int | None = None
    table: int | None = None
    row: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", _LINE_BREAKS.sub(" ", self.text))


@dataclass
class PlanDocument:
    """A document as blocks in reading order (see the module docstring)."""

    name: str
    format: str
    blocks: list[Block] = field(default_factory=list)
    encoding: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    def block(self, line: int) -> Block | None:
        """The block behind 1-based text line ``line`` (None outside the document)."""
        return self.blocks[line - 1] if 0 < line <= len(self.blocks) else None

    def where(self, line: int) -> str:
        block = self.block(line)
        return block.where if block is not None else f"第{line}行"

    def check_size(self) -> None:
        if not any(b.text.strip() for b in self.blocks):
            raise PlanParseError("文档中没有可读的文字", source=self.name)
        if sum(len(b.text) for b in self.blocks) > MAX_CHARACTERS:
            raise PlanParseError(
                f"文档文字过多(超过 {MAX_CHARACTERS // 10000} 万字),不像一份工作方案",
                source=self.name,
            )


def format_of(name: str) -> str:
    """The reader for a file name; PlanParseError for an extension we do not read."""
    suffix = Path(name).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    allowed = "、".join(sorted({s for s in FORMATS if s not in (".text", ".shtml")}))
    raise PlanParseError(
        f"不支持的文件类型“{suffix or '无扩展名'}”;可上传 {allowed}", source=name
    )


def read_plan_document(path: Path, *, name: str | None = None) -> PlanDocument:
    """Read ``path`` (shown to people as ``name``, default the path) into blocks.

    Raises PlanParseError naming the file and what is wrong; reads nothing of a
    file over the size limits.
    """
    shown = name or str(path)
    kind = format_of(name or path.name)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise PlanParseError("文件不存在", source=shown) from None
    except OSError as err:
        raise PlanParseError(f"无法读取文件:{err.strerror}", source=shown) from None
    if path.is_dir():
        raise PlanParseError("这是一个目录,不是方案文件", source=shown)
    limit = MAX_TEXT_BYTES if kind in ("txt", "html") else MAX_DOCUMENT_BYTES
    if size > limit:
        raise PlanParseError(
            f"文件过大({size / 1024 / 1024:.1f} MB,上限 {limit // 1024 // 1024} MB),"
            "请确认是否为工作方案正文",
            source=shown,
        )
    if size == 0:
        raise PlanParseError("文件为空,没有可解析的内容", source=shown)
    document = _READERS[kind](path, shown)
    document.check_size()
    return document


def _read_txt(path: Path, shown: str) -> PlanDocument:
    from duban.services.plans.documents.text import read_text

    return read_text(path, shown)


def _read_docx(path: Path, shown: str) -> PlanDocument:
    from duban.services.plans.documents.word import read_docx

    return read_docx(path, shown)


def _read_pdf(path: Path, shown: str) -> PlanDocument:
    from duban.services.plans.documents.pdf import read_pdf

    return read_pdf(path, shown)


def _read_ofd(path: Path, shown: str) -> PlanDocument:
    from duban.services.plans.documents.ofd import read_ofd

    return read_ofd(path, shown)


def _read_html(path: Path, shown: str) -> PlanDocument:
    from duban.services.plans.documents.web_page import read_html

    return read_html(path, shown)


def _read_legacy(path: Path, shown: str) -> PlanDocument:
    from duban.services.plans.documents.legacy import read_legacy_word

    return read_legacy_word(path, shown)


_READERS = {
    "txt": _read_txt,
    "docx": _read_docx,
    "pdf": _read_pdf,
    "ofd": _read_ofd,
    "html": _read_html,
    "doc": _read_legacy,
    "wps": _read_legacy,
}
