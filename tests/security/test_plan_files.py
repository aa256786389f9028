"""Promise: a huge or odd plan file costs little memory and gets a clear answer.

A plan document over its size limit (5 MB of text, 30 MB for Word, PDF, …)
is refused from its size, naming the file, without being read; the text of
any file up to the limit is decoded and checked without listing its
characters, so memory stays a small multiple of its size.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from duban.config import REFERENCE_PLAN_FILE
from duban.domain.errors import PlanParseError
from duban.domain.text_decoding import decode_plan_bytes
from duban.services.plans.files import read_plan_text

MB = 1024 * 1024


def _peak(call: object) -> int:
    tracemalloc.start()
    try:
        call()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_50_mb_text_plan_is_refused_without_being_read(tmp_path: Path) -> None:
    huge = tmp_path / "plan.txt"
    with huge.open("wb") as handle:  # sparse: no 50 MB written to disk
        handle.truncate(50 * MB)

    def read() -> None:
        with pytest.raises(PlanParseError, match="文件过大") as caught:
            read_plan_text(huge)
        assert str(huge) in str(caught.value)

    assert _peak(read) < 2 * MB


def test_a_large_plan_is_decoded_in_a_small_multiple_of_its_size() -> None:
    reference = REFERENCE_PLAN_FILE.read_bytes()
    data = reference * (2 * MB // len(reference))
    peak = _peak(lambda: decode_plan_bytes(data, source="big.txt"))
    # The text itself takes about as much as the bytes (2 bytes per CJK
    # character); listing the characters took over 20 times the file size.
    assert peak < 4 * len(data)
