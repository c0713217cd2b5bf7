"""The few domain errors lmrec raises, so callers can tell them apart.

The CLI maps each to an exit code and the service (later) to a 4xx JSON body, so every error
carries what a user needs to fix their input: the field, the row and the offending value.
"""

from __future__ import annotations

from typing import Any


class LmrecError(Exception):
    """Base class of every error lmrec raises on purpose."""

    exit_code = 1


class DataError(LmrecError, ValueError):
    """Input data is invalid; names the field, row and value when they are known."""

    exit_code = 65  # EX_DATAERR

    def __init__(
        self,
        reason: str,
        *,
        field: str | None = None,
        row: int | None = None,
        value: Any = None,
        source: str | None = None,
    ) -> None:
        self.reason = reason
        self.field = field
        self.row = row
        self.value = value
        self.source = source
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.source is not None:
            where.append(str(self.source))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        value = "" if self.value is None else f" (got {_short(self.value)})"
        return f"{prefix}: {self.reason}{value}" if prefix else f"{self.reason}{value}"


class FormatError(DataError):
    """A file or folder is not in a format lmrec can read, or cannot be detected."""


class ConfigError(LmrecError, ValueError):
    """A configuration value is invalid or a component name is unknown."""

    exit_code = 64  # EX_USAGE


class NotFittedError(LmrecError, RuntimeError):
    """A model was asked to score or save before `fit` was called."""


class StoreError(LmrecError, RuntimeError):
    """The store cannot be opened, migrated or written."""

    exit_code = 74  # EX_IOERR


def _short(value: Any, limit: int = 80) -> str:
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # 1.5, not np.float64(1.5); numpy itself stays unimported here
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
