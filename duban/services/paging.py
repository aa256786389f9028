"""One page of a longer list, for every room that pages what it reads.

Below the rooms (it needs nothing but the standard library), so the tasks
room and the reports room share it without one importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

PAGE_SIZE = 50  # entries a page shows unless told otherwise

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a log: ``entries`` from ``offset``, of ``total`` matching."""

    entries: list[T]
    total: int
    offset: int
    limit: int

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))

    @property
    def first_shown(self) -> int:
        return self.offset + 1 if self.entries else 0

    @property
    def last_shown(self) -> int:
        return self.offset + len(self.entries)


def page_offset(page: int | None, limit: int = PAGE_SIZE) -> int:
    """The offset of 1-based ``page`` (anything below 1 is the first)."""
    return (max(page or 1, 1) - 1) * limit
