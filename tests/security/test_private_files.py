"""Promise: what holds secrets is readable by its owner only.

The data directory is created 0700; the SQLite database (contact addresses
with SMTP passwords and bot keys), the secret key, the demo's organisation
file and passwords are created 0600 — whatever the umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from duban.config import Settings
from duban.db import upgrade
from duban.private_files import private_dir, write_private
from duban.services.accounts.links import KEY_FILE, signing_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive usual umask: files would be 0644, folders 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_installation_keeps_its_data_to_its_owner(
    open_umask: None, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "share" / "duban")
    upgrade(settings)
    signing_key(settings)
    assert mode(settings.data_dir) == 0o700
    assert mode(settings.data_dir / "duban.db") == 0o600
    assert mode(settings.data_dir / KEY_FILE) == 0o600
    assert mode(tmp_path / "share") == 0o755  # only what duban owns is narrowed


def test_secret_files_are_private_before_a_byte_is_written(
    open_umask: None, tmp_path: Path
) -> None:
    folder = private_dir(tmp_path / "data")
    org = folder / "demo-org.yaml"
    org.write_text("old", encoding="utf-8")
    org.chmod(0o644)
    write_private(org, "notify: [mailto://user:secret@host]\n")
    assert mode(org) == 0o600 and mode(folder) == 0o700
    assert "secret" in org.read_text(encoding="utf-8")
