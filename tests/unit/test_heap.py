"""The heap a round's process leaves to the garbage collector (duban.ops.heap)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

# Run in a process of its own: the test process's heap is not this test's to freeze.
SCRIPT = textwrap.dedent(
    """
    import gc
    from duban.ops.heap import heap_settled
    from duban.wiring import open_context
    from notifications.send import Sender

    context = open_context()
    assert gc.get_freeze_count() == 0 and not heap_settled()
    with Sender() as sender:
        context.round_tools(sender=sender)
        frozen = gc.get_freeze_count()
        leftover = [object() for _ in range(1000)]
        context.round_tools(sender=sender)
        print(frozen, gc.get_freeze_count(), heap_settled())
    """
)


def test_a_process_asking_for_round_tools_freezes_its_start_up_heap_once(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "duban.db"
    shutil.copyfile(sqlite_template, database)
    environment = {
        **os.environ,
        "DUBAN_DATABASE_URL": f"sqlite:///{database}",
        "DUBAN_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second, settled = done.stdout.split()
    # The imported libraries are frozen; the second call froze nothing more.
    assert int(first) > 50_000
    assert int(second) == int(first)
    assert settled == "True"
