"""Errors that reach users. Messages are Chinese first and name what is at fault."""

from __future__ import annotations


class DubanError(Exception):
    """An error a user can act on; ``str(err)`` is the message to show."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}:{message}" if where else message)


class PlanParseError(DubanError):
    """The document cannot be read as a plan. ``line`` is 1-based, or None."""

    def __init__(self, message: str, *, line: int | None = None, source: str | None = None):
        self.line = line
        self.source = source
        where = None
        if source and line:
            where = f"{source} 第{line}行"
        elif line:
            where = f"第{line}行"
        elif source:
            where = source
        super().__init__(message, where=where)


class DraftError(DubanError):
    """An edited draft file is invalid."""


class DirectoryError(DubanError):
    """A department directory file is invalid or a name is unknown."""


class NotFoundError(DubanError):
    """A record the user named does not exist."""
