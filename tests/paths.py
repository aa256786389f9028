"""Where test inputs live."""

from __future__ import annotations

from pathlib import Path

from duban.config import DEFAULT_DIRECTORY_FILE, REFERENCE_PLAN_FILE

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE_PLAN = REFERENCE_PLAN_FILE
SHARED_REFERENCE_PLAN = SHARED / "plans" / REFERENCE_PLAN_FILE.name
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def default_directory_file() -> Path:
    return DEFAULT_DIRECTORY_FILE
