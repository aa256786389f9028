"""Read plan documents and parser configurations from disk.

A plan file is read by :mod:`duban.services.plans.documents` (text, Word, PDF, OFD, web page,
.doc/.wps through LibreOffice) into blocks; the parser reads the blocks' text, whose
line N is block N, and every measure gets the provenance labels of its lines
(``Measure.where``, ``clause_where``: 第2页 第3段, 表1 第4行 …).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from duban.domain.directory import Directory
from duban.domain.errors import DubanError, PlanParseError
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import PlanDraft
from duban.domain.plan_parser import parse_plan
from duban.services.plans.documents import PlanDocument, read_plan_document


def read_plan_text(path: Path) -> tuple[str, str]:
    """Return ``(text, encoding)`` of a plan document; PlanParseError names the file."""
    document = read_plan_document(path)
    return document.text, document.encoding or document.format


def load_parser_config(path: Path | None) -> ParserConfig:
    """The default configuration, or one overridden by a YAML file."""
    if path is None:
        return ParserConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise DubanError("解析配置文件不存在", where=str(path)) from None
    except yaml.YAMLError as err:
        raise DubanError(f"解析配置不是有效的 YAML:{err}", where=str(path)) from None
    if not isinstance(data, dict):
        raise DubanError("解析配置应为映射", where=str(path))
    return ParserConfig.from_mapping(data, source=str(path))


def parse_plan_document(
    document: PlanDocument,
    directory: Directory | None = None,
    config: ParserConfig | None = None,
) -> PlanDraft:
    """Parse a read document; errors name the document (and line, as its provenance)."""
    text = document.text
    try:
        draft = parse_plan(
            text,
            config=config,
            known=directory.knows if directory is not None else None,
            source_name=Path(document.name).name,
        )
    except PlanParseError as err:
        if err.source is None:
            message = err.message
            if err.line and document.format != "txt":
                message = f"{message}(原文{document.where(err.line)})"
            raise PlanParseError(message, line=err.line, source=document.name) from None
        raise
    draft.encoding = document.encoding or document.format
    draft.source_format = document.format
    if document.format != "txt":
        for measure in draft.measures:
            measure.where = document.where(measure.line)
            if measure.clause_line:
                measure.clause_where = document.where(measure.clause_line)
    return draft


def parse_plan_file(
    path: Path,
    directory: Directory | None = None,
    config: ParserConfig | None = None,
    *,
    name: str | None = None,
) -> tuple[PlanDraft, str]:
    """Read and parse a plan document; returns ``(draft, text)`` where line N of
    ``text`` is the document's block N.

    Raises PlanParseError with the file and line at fault; nothing is written.
    """
    document = read_plan_document(path, name=name)
    return parse_plan_document(document, directory, config), document.text
