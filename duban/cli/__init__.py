"""The ``duban`` console script: thin commands over duban.services."""

from __future__ import annotations

import sys

from duban.cli.app import app
from duban.domain.errors import DubanError

# Importing the command modules registers their commands on ``app``.
from duban.cli import plan as _plan  # noqa: F401  isort: skip
from duban.cli import db as _db  # noqa: F401  isort: skip
from duban.cli import org as _org  # noqa: F401  isort: skip
from duban.cli import store as _store  # noqa: F401  isort: skip
from duban.cli import tasks as _tasks  # noqa: F401  isort: skip
from duban.cli import assign as _assign  # noqa: F401  isort: skip
from duban.cli import demo as _demo  # noqa: F401  isort: skip
from duban.cli import reminders as _reminders  # noqa: F401  isort: skip
from duban.cli import policy as _policy  # noqa: F401  isort: skip
from duban.cli import serve as _serve  # noqa: F401  isort: skip
from duban.cli import user as _user  # noqa: F401  isort: skip
from duban.cli import report as _report  # noqa: F401  isort: skip
from duban.cli import issued_documents as _issued_documents  # noqa: F401  isort: skip
from duban.cli import cluster as _cluster  # noqa: F401  isort: skip
from duban.cli import items as _items  # noqa: F401  isort: skip


def main() -> None:
    """Entry point: run the CLI; a DubanError becomes a Chinese message and exit 1."""
    try:
        code = app(standalone_mode=False)
    except DubanError as err:
        print(f"错误:{err}", file=sys.stderr)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as err:  # click's own usage errors
        import click

        if isinstance(err, click.exceptions.Abort):
            print("已取消", file=sys.stderr)
            sys.exit(1)
        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
    # Without standalone mode click returns typer.Exit's code instead of exiting.
    if isinstance(code, int) and code != 0:
        sys.exit(code)
