"""``duban plan parse``: read a plan document into a reviewable draft (no database)."""

from __future__ import annotations
