"""Exceptions raised by gridledger.

Every error a user can cause derives from :class:`GridledgerError`; the CLI turns them
into a one-line message and exit code 2.
"""

from __future__ import annotations


class GridledgerError(Exception):
    """Base class of every error gridledger raises on purpose."""


class ConfigError(GridledgerError, ValueError):
    """A parameter or input file is invalid.

    Parameters
    ----------
    field
        Dotted name of the offending field (``"theta"``, ``"dma_ubrl.sigma"``, ``"w[3]"``).
    message
        What is wrong and what is allowed, e.g. ``"must be > 0 (got -1)"``.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InputFileError(GridledgerError):
    """An input file cannot be read or parsed (names the file and, when known, the position)."""

    def __init__(self, path: str, message: str, line: int | None = None, column: int | None = None) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
