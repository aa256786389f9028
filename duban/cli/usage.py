"""Usage errors of the command line in Chinese: a wrong option, a missing
one, a value of the wrong type or outside its range.

typer bundles its own copy of click (``typer._click``), whose exceptions are
not click's: both are recognised here by the attributes they share. The
message names the option or argument and the value at fault, and how to see
the command's help.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

MAX_SHOWN = 40

_PYDANTIC_KINDS = {
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "date_parsing": "应为日期(YYYY-MM-DD)",
    "date_from_datetime_parsing": "应为日期(YYYY-MM-DD)",
    "datetime_parsing": "应为日期时间(YYYY-MM-DDTHH:MM)",
    "datetime_from_date_parsing": "应为日期时间(YYYY-MM-DDTHH:MM)",
}
_QUOTED = re.compile(r"'([^']*)'")


class BadValue(ValueError):
    """Why a command's own parser refused a value (the cause of its
    BadParameter): the value and the reason, in Chinese."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(value, reason)
        self.value, self.reason = value, reason


def is_usage_error(err: BaseException) -> bool:
    """A usage error of typer's bundled click or of click itself (exit status 2)."""
    return getattr(err, "exit_code", None) == 2 and hasattr(err, "format_message")


def is_no_args_help(err: BaseException) -> bool:
    return type(err).__name__ == "NoArgsIsHelpError"


def _shown(value: object) -> str:
    text = str(value.value if isinstance(value, Enum) else value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}…"


def _param_name(param: Any) -> str:
    opts = list(getattr(param, "opts", None) or [])
    if opts and getattr(param, "param_type_name", "") == "option":
        return "选项 " + "/".join(opts)
    name = getattr(param, "metavar", None) or getattr(param, "name", None) or "?"
    return f"参数 {str(name).upper()}"


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) or ()
    return [_shown(choice) for choice in choices]


def _bad_value(err: Any) -> str:
    param = getattr(err, "param", None)
    where = _param_name(param) if param is not None else "参数"
    cause = err.__cause__
    if isinstance(cause, BadValue):
        return f"{where} 的值“{_shown(cause.value)}”{cause.reason}"
    errors = cause.errors() if hasattr(cause, "errors") else []
    first: dict[str, Any] = errors[0] if errors else {}
    value = first.get("input", "")
    kind = str(first.get("type", ""))
    context = first.get("ctx") or {}
    choices = _choices(param)
    if choices:
        reason = "应为 " + "、".join(choices) + " 之一"
    elif kind in _PYDANTIC_KINDS:
        reason = _PYDANTIC_KINDS[kind]
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low = context.get("ge", context.get("gt"))
        high = context.get("le", context.get("lt"))
        if low is not None and high is not None:
            reason = f"超出范围(应在 {low} 到 {high} 之间)"
        elif low is not None:
            reason = f"超出范围(应不小于 {low})"
        else:
            reason = f"超出范围(应不大于 {high})"
    else:
        reason = "无效"
    if value == "" and not first:
        return f"{where} 的值无效"
    return f"{where} 的值“{_shown(value)}”{reason}"


def usage_message(err: BaseException) -> str:
    """The Chinese message for a usage error, with a pointer to ``--help``."""
    name = type(err).__name__
    raw = str(getattr(err, "message", "") or err)
    if name == "MissingParameter":
        param = getattr(err, "param", None)
        text = f"缺少{_param_name(param)}" if param is not None else "缺少必需的参数"
    elif name == "BadParameter":
        text = _bad_value(err)
    elif name == "NoSuchOption":
        option = getattr(err, "option_name", "")
        text = f"没有选项 {_shown(option)}"
        possible = sorted(getattr(err, "possibilities", None) or [])
        if possible:
            text += "(是否想用 " + "、".join(possible) + ")"
    elif name == "BadOptionUsage":
        option = getattr(err, "option_name", "")
        if "requires" in raw:
            text = f"选项 {option} 需要一个值"
        elif "does not take" in raw:
            text = f"选项 {option} 不带值"
        else:
            text = f"选项 {option} 用法不对"
    elif raw.startswith("No such command"):
        found = _QUOTED.search(raw)
        text = f"没有命令“{_shown(found.group(1) if found else raw)}”"
    elif raw.startswith("Got unexpected extra argument"):
        extra = raw[raw.find(" (") + 2 : raw.rfind(")")] if " (" in raw else raw
        text = f"多余的参数:{_shown(extra)}"
    else:
        text = f"用法错误:{_shown(raw)}"
    ctx = getattr(err, "ctx", None)
    path = getattr(ctx, "command_path", None) or "duban"
    return f"错误:{text}。运行 {path} --help 查看用法"
