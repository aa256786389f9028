"""Which reported indicator values are believable (stdlib only).

A reported value must be a finite number within the range its unit allows:

- a percentage (``%``, ``％``) lies between 0 and 100, unless the target
  itself says otherwise: a target above 100 % (growth to 150 %) lifts the top
  to the general bound, a negative target (a fall of 5 %) lowers the bottom
  to minus that bound;
- a value in any other unit lies within ± the general bound
  (``DUBAN_INDICATOR_MAX``, default 10¹², enough for an amount in 元).

The same check guards what is drawn and summed: :func:`plottable` drops any
value already stored that no report could give today.
"""

from __future__ import annotations

import math

DEFAULT_BOUND = 1e12
PERCENT_UNITS = frozenset({"%", "％"})


def is_percent(unit: str | None) -> bool:
    return (unit or "").strip() in PERCENT_UNITS


def value_range(
    unit: str | None, target_value: float | None, *, bound: float = DEFAULT_BOUND
) -> tuple[float, float]:
    """The lowest and highest value a report may give for a target (see module doc)."""
    if is_percent(unit):
        low = -bound if target_value is not None and target_value < 0 else 0.0
        high = bound if target_value is not None and target_value > 100 else 100.0
        return low, high
    return -bound, bound


def range_problem(
    value: float, unit: str | None, target_value: float | None, *, bound: float = DEFAULT_BOUND
) -> str | None:
    """Why ``value`` is refused, in Chinese, or None when it is believable."""
    if math.isnan(value):
        return "不是数字"
    if math.isinf(value):
        return "不是有限的数值"
    low, high = value_range(unit, target_value, bound=bound)
    if low <= value <= high:
        return None
    kind = "百分比" if is_percent(unit) else "数值"
    return f"超出合理范围({kind}应在 {_show(low)} 到 {_show(high)} 之间)"


def plottable(value: float, *, bound: float = DEFAULT_BOUND) -> bool:
    """True for a value a chart or a sum can use: finite, within ± ``bound``
    (a percentage's own range is not applied: old data may exceed it)."""
    return math.isfinite(value) and -bound <= value <= bound


def _show(value: float) -> str:
    return f"{value:.15g}" if abs(value) < 1e15 else f"{value:g}"
