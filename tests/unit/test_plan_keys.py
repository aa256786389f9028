"""Plan keys: the spellings of one 文号 that name the same plan, table-driven."""

from __future__ import annotations

import pytest

from duban.domain.plan_keys import key_variants


@pytest.mark.parametrize(
    ("key", "also"),
    [
        pytest.param("珠府办〔2025〕5号",
                     ["珠府办(2025)5号", "珠府办[2025]5号", "珠府办【2025】5号"],
                     id="printed-tortoise-shell"),
        pytest.param("珠府办(2025)5号", ["珠府办〔2025〕5号", "珠府办（2025）5号"],
                     id="typed-parentheses"),
        pytest.param("粤府办[2015]8号", ["粤府办〔2015〕8号"], id="square"),
    ],
)
def test_a_bracketed_year_has_every_spelling_exact_first(key: str, also: list[str]) -> None:
    variants = key_variants(key)
    assert variants[0] == key and set(also) <= set(variants)
    assert len(variants) == len(set(variants)) == 6


@pytest.mark.parametrize(
    "key", ["珠委办201423", "关于加强社会建设的工作方案(测试)", "2025年督办件"]
)
def test_a_key_without_a_bracketed_year_is_only_itself(key: str) -> None:
    assert key_variants(key) == [key]
