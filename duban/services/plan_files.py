"""Read plan documents and parser configurations from disk."""

from __future__ import annotations

from pathlib import Path

import yaml

from duban.domain.directory import Directory
from duban.domain.errors import DubanError, PlanParseError
from duban.domain.parser_config import ParserConfig
from duban.domain.plan_draft import PlanDraft
from duban.domain.plan_parser import parse_plan
from duban.domain.text_decoding import decode_plan_bytes


def read_plan_text(path: Path) -> tuple[str, str]:
    """Return ``(text, encoding)`` of a plan file; PlanParseError names the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PlanParseError("文件不存在", source=str(path)) from None
    except IsADirectoryError:
        raise PlanParseError("这是一个目录,不是方案文件", source=str(path)) from None
    except OSError as err:
        raise PlanParseError(f"无法读取文件:{err.strerror}", source=str(path)) from None
    return decode_plan_bytes(data, source=str(path))


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


def parse_plan_file(
    path: Path,
    directory: Directory | None = None,
    config: ParserConfig | None = None,
) -> tuple[PlanDraft, str]:
    """Decode and parse a plan document; returns ``(draft, decoded text)``.

    Raises PlanParseError with the file and line at fault; nothing is written.
    """
    text, encoding = read_plan_text(path)
    try:
        draft = parse_plan(
            text,
            config=config,
            known=directory.knows if directory is not None else None,
            source_name=path.name,
        )
    except PlanParseError as err:
        if err.source is None:
            raise PlanParseError(err.message, line=err.line, source=str(path)) from None
        raise
    draft.encoding = encoding
    return draft, text
