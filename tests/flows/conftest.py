"""One Prefect test harness per test session (it takes ~15-20 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from duban.config import apply_prefect_defaults


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A temporary Prefect API for the session; yields its URL (for subprocesses)."""
    apply_prefect_defaults()
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield str(PREFECT_API_URL.value())
