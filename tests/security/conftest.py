"""The web fixtures of ``tests/web`` (the seeded world, a client, sign-in and
department links), shared by the security suite."""

from __future__ import annotations

from tests.web.conftest import (  # noqa: F401  (fixtures, registered by import)
    app,
    client,
    link,
    login,
    new_client,
    password_hash,
    web_settings,
    world,
)
