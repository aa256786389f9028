"""Turn service results into JSON-able values (for ``--json`` output)."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date
from enum import Enum
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` with dataclasses as dicts, tuples as lists, dates and
    datetimes as ISO 8601 strings and enums as their values."""
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
