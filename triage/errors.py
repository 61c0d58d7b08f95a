"""One error hierarchy for everything the user can cause.

Every error a user can fix (bad input, bad rule, bad option) is a TriageError; the CLI prints
``str(err)`` on one line and exits 2. Errors that point at a place in a file carry it, so the message
reads ``rules/x.yaml:12: rule "y": match.any[0].regex: ...``.
"""

from __future__ import annotations


class TriageError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class LocatedError(TriageError):
    """An error at a place in a file: ``path:line: rule "id": key.path: message``."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        rule: str | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.rule = rule
        self.key = key
        super().__init__(self.format())

    def format(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line is not None else self.path)
        if self.rule is not None:
            parts.append(f'rule "{self.rule}"')
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)


class RuleError(LocatedError):
    """A rule file or rule that is not valid."""


class RuleErrors(TriageError):
    """Several rule errors collected at once (``--collect``)."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class InputError(TriageError):
    """A log source that cannot be opened or read at all (missing file, unreadable)."""


class NoEntriesError(InputError):
    """The sources held no Cloud Run log entry at all: a check on such input must fail, never pass."""


class SourceError(TriageError):
    """A live source (Cloud Logging) failed; ``partial`` tells whether some entries came first."""

    exit_code = 3

    def __init__(self, message: str, *, partial: bool = False) -> None:
        self.partial = partial
        super().__init__(message)


class ConfigError(LocatedError):
    """A project config or annotations file that is not valid."""
