"""Plain text plans: one block per line."""

from __future__ import annotations

from pathlib import Path

from duban.domain.text_decoding import decode_plan_bytes
from duban.services.plans.documents import Block, PlanDocument


def read_text(path: Path, shown: str) -> PlanDocument:
    """Decode (UTF-8/UTF-16/GBK, see text_decoding) and keep every line as a block."""
    text, encoding = decode_plan_bytes(path.read_bytes(), source=shown)
    blocks = [Block(line, f"第{n}行") for n, line in enumerate(text.splitlines(), 1)]
    return PlanDocument(shown, "txt", blocks, encoding)
