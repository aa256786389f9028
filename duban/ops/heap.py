"""Keep a round's garbage collections off the objects start-up made.

A process that runs reminder rounds has imported SQLAlchemy, Apprise, Jinja,
Prefect and the rest by then: ~180k container objects that live as long as
the process. CPython's full (generation 2) collection walks all of them each
time, and a round of a few hundred mails makes enough objects to trigger one:
~100 ms of CPU in the middle of sending (0.5 ms a mail at 200 mails). Moving
what start-up left to the permanent generation (``gc.freeze()``, documented
for this: "to speed up collection") lets later collections walk only what was
made since. Garbage is collected first, so nothing unreachable is frozen; an
object frozen here that becomes garbage later is never collected, which is
why this happens once per process, not once per round.
"""

from __future__ import annotations

import gc
import threading

_LOCK = threading.Lock()
_settled = False


def settle_heap() -> bool:
    """Once per process: collect garbage, then freeze every object left
    (``gc.freeze()``); True when this call did it, False if an earlier one had."""
    global _settled
    with _LOCK:
        if _settled:
            return False
        _settled = True
        gc.collect()
        gc.freeze()
        return True


def heap_settled() -> bool:
    """Whether :func:`settle_heap` has run in this process."""
    return _settled
