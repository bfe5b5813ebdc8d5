"""The error tree. The CLI turns any PerfopsError into one line and exit 1, in one place.

    PerfopsError                 a user's input or configuration is wrong (exit 1)
    ├── CatalogError             perfops.yaml is invalid (carries every problem found)
    ├── InputError               an input file is malformed (file, line, field, expectation)
    ├── NotFoundError            a run id, finding id, service or squad that does not exist
    ├── SourceError              a remote source (Prometheus, a webhook) failed or refused
    └── WorkspaceBusyError       another perfops process holds the workspace
"""

from __future__ import annotations


class PerfopsError(Exception):
    """A problem the user can fix. `hint` says what to do; it ends the printed line."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class CatalogError(PerfopsError):
    """perfops.yaml is invalid. `problems` lists every problem as 'file:line: text'."""

    def __init__(self, problems: list[str], hint: str | None = None) -> None:
        head = problems[0] if len(problems) == 1 else f"{len(problems)} problems in the catalog"
        super().__init__(head, hint)
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(self.problems)


class InputError(PerfopsError):
    """An input file is malformed. Formats as `file:line: field: what was wrong, what was expected`."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path:
            where = f"{path}:{line}: " if line else f"{path}: "
        prefix = f"{field}: " if field else ""
        super().__init__(f"{where}{prefix}{message}", hint)
        self.path, self.line, self.field = path, line, field


class NotFoundError(PerfopsError):
    """A named thing (run, finding, service, squad) does not exist."""


class SourceError(PerfopsError):
    """A remote source answered with an error or could not be reached."""


class WorkspaceBusyError(PerfopsError):
    """Another perfops process is writing to this workspace."""
