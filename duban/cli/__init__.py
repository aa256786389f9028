"""The ``duban`` console script: thin commands over duban.services."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import DataError, DBAPIError

from duban.cli.app import app
from duban.cli.usage import is_no_args_help, is_usage_error, usage_message
from duban.config import get_settings
from duban.db import unreachable_message
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
from duban.cli import calendar as _calendar  # noqa: F401  isort: skip


def main() -> None:
    """Entry point: run the CLI. A DubanError becomes a Chinese message and exit
    1; a usage error (unknown option, missing or malformed value) a Chinese
    message naming the option and exit 2; a database that cannot be reached a
    Chinese message naming it (password hidden) and what to check, exit 1;
    never a traceback for any of them."""
    try:
        code = app(standalone_mode=False, prog_name="duban")
    except DubanError as err:
        print(f"错误:{err}", file=sys.stderr)
        sys.exit(1)
    except SystemExit:
        raise
    except (OverflowError, DataError):
        # A number no column can hold (SQLite raises OverflowError binding it).
        print("错误:数值超出范围(编号或序号过大)", file=sys.stderr)
        sys.exit(1)
    except DBAPIError as err:  # the database away (DataError, a DBAPIError, is above)
        message = unreachable_message(err, get_settings().database_url)
        if message is None:
            raise
        print(f"错误:{message}", file=sys.stderr)
        sys.exit(1)
    except Exception as err:  # typer's bundled click (or click itself)
        if is_no_args_help(err):
            print(getattr(err, "format_message", lambda: "")(), file=sys.stderr)
            sys.exit(2)
        if is_usage_error(err):
            print(usage_message(err), file=sys.stderr)
            sys.exit(2)
        if isinstance(err, typer.Abort) or type(err).__name__ == "Abort":
            print("已取消", file=sys.stderr)
            sys.exit(1)
        if isinstance(err, typer.TyperException):  # e.g. a file that cannot be opened
            print(f"错误:{err.format_message()}", file=sys.stderr)
            sys.exit(err.exit_code)
        raise
    # Without standalone mode click returns typer.Exit's code instead of exiting.
    if isinstance(code, int) and code != 0:
        sys.exit(code)
