"""Files and folders that hold secrets, created readable by their owner only.

The data directory holds the SQLite database (SMTP passwords and bot keys in
its contact addresses), the secret key, the demo's organisation file and
passwords, attachments and drafts: it is created 0700, and those files 0600,
whatever the umask. An existing directory or file keeps the mode its owner
gave it, except a file rewritten with :func:`write_private`.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` as a directory; created (with missing parents) 0700 if it was not there."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # made by another process meanwhile
        else:
            os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty and 0600 if it is missing (before anything writes it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, which is 0600 before a byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
