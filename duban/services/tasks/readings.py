"""Indicator values in a progress report (进度反馈): matched to the task's
numeric targets by name (or the only one), read as numbers (a trailing unit or
% allowed) and checked against the target's plausible range. Every refusal is
a :class:`TransitionError` naming the task and the indicator.
"""

from __future__ import annotations

from collections.abc import Mapping

from duban.domain.indicators import range_problem
from duban.domain.lifecycle import (
    TransitionError,
)
from duban.services.tasks.facts import indicator_name, match_indicator
from duban.services.tasks.transitions import (
    task_where,
)
from models import Target, Task


def indicator_values(
    task: Task,
    targets: list[Target],
    values: Mapping[str, object] | None,
    bare: object,
    *,
    bound: float,
) -> list[tuple[Target, float]]:
    """The reported values matched to the task's numeric targets, validated."""
    where = task_where(task.id)
    names = "、".join(f"“{indicator_name(t)}”" for t in targets)
    pairs: list[tuple[Target, object]] = []
    if bare is not None:
        if not targets:
            raise TransitionError("本任务没有数值指标,不能报送指标值", where=where)
        if len(targets) > 1:
            raise TransitionError(
                f"本任务有{len(targets)}个数值指标,请用“指标=数值”分别填写:{names}", where=where
            )
        pairs.append((targets[0], bare))
    for key, raw in (values or {}).items():
        if not targets:
            raise TransitionError(f"本任务没有数值指标,不能报送“{key}”", where=where)
        target = match_indicator(key, targets)
        if target is None:
            raise TransitionError(f"本任务没有指标“{key}”,可报送的指标:{names}", where=where)
        pairs.append((target, raw))
    seen: set[int] = set()
    parsed: list[tuple[Target, float]] = []
    for target, raw in pairs:
        if target.id in seen:
            raise TransitionError(f"指标“{indicator_name(target)}”填写了两次", where=where)
        seen.add(target.id)
        parsed.append((target, _number(raw, target, where, bound=bound)))
    return parsed


def _number(raw: object, target: Target, where: str, *, bound: float) -> float:
    """``raw`` as a finite number within the target's range; text may end in
    the target's unit or %."""
    number: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        for suffix in (target.unit or "", "%", "%"):
            if suffix and text.endswith(suffix):
                text = text[: -len(suffix)].strip()
                break
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            number = None
    shown = str(raw) if len(str(raw)) <= 40 else f"{str(raw)[:40]}…"
    if number is None:
        raise TransitionError(f"指标“{indicator_name(target)}”的值“{shown}”不是数字", where=where)
    problem = range_problem(number, target.unit, target.value, bound=bound)
    if problem is not None:
        raise TransitionError(f"指标“{indicator_name(target)}”的值“{shown}”{problem}", where=where)
    return number
