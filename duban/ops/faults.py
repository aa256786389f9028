"""Test-only fault injection points (settings ``fault_pause_at`` and
``fault_pause_file``; never set in production).

At its point, a flow run writes ``<file>.paused`` (its pid) and waits while
``<file>`` exists: a test creates the file, waits for the marker, kills a
worker or stops a server, then removes the file to let the run go on. The
pause happens once per file."""

from __future__ import annotations

import logging
import os
import time

from duban.config import Settings

LOG = logging.getLogger(__name__)


def pause_point(settings: Settings, point: str) -> None:
    """Wait here while the fault file exists, if this is the configured point."""
    flag = settings.fault_pause_file
    if settings.fault_pause_at != point or flag is None or not flag.exists():
        return
    marker = flag.with_name(flag.name + ".paused")
    if marker.exists():
        return  # paused here once already
    marker.write_text(str(os.getpid()), encoding="utf-8")
    LOG.warning("fault injection: paused at %s until %s is removed", point, flag)
    while flag.exists():
        time.sleep(0.1)
    LOG.warning("fault injection: going on after %s", point)
