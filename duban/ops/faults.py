"""Test-only fault injection (settings ``fault_crash_after_tasks``,
``fault_pause_at`` and ``fault_pause_file``; never set in production).

Flows do not import this module: the composition root hands them a
:class:`FaultHooks` (``AppContext.faults``), all no-ops unless the settings
ask for a fault. Drills and tests (tests/cluster, tests/flows) set the
``DUBAN_FAULT_*`` variables of the processes they start.

- A pause: at its point, a flow run writes ``<file>.paused`` (its pid) and
  waits while ``<file>`` exists; a test creates the file, waits for the
  marker, kills a worker or stops a server, then removes the file to let the
  run go on. The pause happens once per file.
- A crash: the measure flow's process dies (``os._exit(70)``) right after
  creating the configured number of new tasks, as a crash would."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from duban.config import Settings

LOG = logging.getLogger(__name__)
CRASH_EXIT_CODE = 70


@dataclass(frozen=True)
class FaultHooks:
    """The fault points flows call; every one does nothing unless configured."""

    pause_at: str | None = None
    pause_file: Path | None = None
    crash_after_tasks: int | None = None

    def pause(self, point: str) -> None:
        """Wait here while the fault file exists, if this is the configured point."""
        flag = self.pause_file
        if self.pause_at != point or flag is None or not flag.exists():
            return
        marker = flag.with_name(flag.name + ".paused")
        if marker.exists():
            return  # paused here once already
        marker.write_text(str(os.getpid()), encoding="utf-8")
        LOG.warning("fault injection: paused at %s until %s is removed", point, flag)
        while flag.exists():
            time.sleep(0.1)
        LOG.warning("fault injection: going on after %s", point)

    def task_created(self, count: int) -> None:
        """After a measure flow's ``count``-th new task: the "task-created"
        pause, and the crash once ``count`` reaches the configured number."""
        self.pause("task-created")
        if self.crash_after_tasks is not None and count >= self.crash_after_tasks:
            LOG.error("fault injection: crashing after %d new tasks", count)
            os._exit(CRASH_EXIT_CODE)

    def sweep_claimed(self, _task_ids: list[int]) -> None:
        """After a sweep claimed a batch: the "sweep-claimed" pause."""
        self.pause("sweep-claimed")


def fault_hooks(settings: Settings) -> FaultHooks:
    """The hooks the settings ask for (no-ops in production)."""
    return FaultHooks(
        pause_at=settings.fault_pause_at,
        pause_file=settings.fault_pause_file,
        crash_after_tasks=settings.fault_crash_after_tasks,
    )

