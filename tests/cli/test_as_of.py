"""``--as-of`` is parsed once, by the command line, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from duban.cli.options import parse_as_of_option

# Runs a command, then says which of Prefect's and duban's flow modules it loaded.
PROBE = """
import sys
from duban.cli import main
sys.argv = ["duban", *sys.argv[1:]]
try:
    main()
finally:
    loaded = sorted(m for m in ("prefect.flows", "flows.sweep", "flows.measure", "flows.digest")
                    if m in sys.modules)
    print("loaded:", ",".join(loaded) or "none", file=sys.stderr)
"""

COMMANDS = [
    ["sweep"],
    ["assign", "--measure", "8"],
    ["digest"],
    ["tasks"],
    ["serve"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_mistyped_as_of_is_refused_naming_the_option_before_prefect_or_the_database(
    command: list[str], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DUBAN_DATA_DIR": str(tmp_path / "data"),
        # Unreachable: the refusal must come before any database work.
        "DUBAN_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none",
    }
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *command, "--as-of", "2015-13-01"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "选项 --as-of 的值“2015-13-01”无效" in result.stderr
    assert "YYYY-MM-DD" in result.stderr and "Traceback" not in result.stderr
    assert "loaded: none" in result.stderr  # no flow, no Prefect


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2015-09-01", datetime(2015, 9, 1, 9, 0), id="a date is 09:00 local"),
        pytest.param("2015-09-01T10:30", datetime(2015, 9, 1, 10, 30), id="local time"),
        pytest.param(
            "2015-09-01T10:30+00:00",
            datetime(2015, 9, 1, 10, 30, tzinfo=timezone(timedelta(0))),
            id="with an offset",
        ),
    ],
)
def test_the_option_parses_dates_and_times(text: str, expected: datetime) -> None:
    parsed = parse_as_of_option(text)
    assert parsed == expected and parsed.tzinfo == expected.tzinfo


def test_every_command_takes_as_of_through_the_one_parser() -> None:
    """No command declares ``--as-of`` itself (each uses ``as_of_option``), so
    every one refuses a mistyped time as the tests above show."""
    cli = Path(__file__).resolve().parents[2] / "duban" / "cli"
    own = sorted(
        path.name
        for path in cli.glob("*.py")
        if '"--as-of"' in path.read_text(encoding="utf-8") and path.name != "options.py"
    )
    assert own == []
