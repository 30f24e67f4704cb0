"""Exceptions raised by the core, and ``Problem``: one thing wrong with a recipe or spec.

The Processing glue turns the exceptions into QgsProcessingException.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe or spec: where (JSON path), what, and how to fix it."""

    path: str
    message: str
    hint: str = ""

    def __str__(self):
        text = f"{self.path}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class CompositeIndexError(Exception):
    """A problem the user can fix: ``message`` says what is wrong, ``hint`` what to do."""

    def __init__(self, message, hint=None, details=None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or []

    def __str__(self):
        text = self.message
        if self.hint:
            text += " " + self.hint
        if self.details:
            text += "\n" + "\n".join("- " + str(d) for d in self.details)
        return text


class RecipeError(Exception):
    """A recipe (or index spec) that cannot run; ``problems`` lists everything wrong."""

    def __init__(self, problems, source=""):
        self.problems = list(problems)
        head = f"The recipe {source} has {len(self.problems)} problem(s):" if source else \
            f"The recipe has {len(self.problems)} problem(s):"
        super().__init__("\n".join([head] + ["- " + str(p) for p in self.problems]))


class Cancelled(CompositeIndexError):  # noqa: N818 - reads better than CancelledError here
    """The user cancelled the run."""

    def __init__(self):
        super().__init__("Cancelled by the user.")


class Progress:
    """Progress and cancel as plain callables, so the core never sees a Qt object.

    ``report(fraction)`` takes 0..1 of this step; ``check()`` raises Cancelled when asked to stop.
    ``sub(start, end)`` maps a sub-step onto a part of this step's range.
    """

    def __init__(self, on_progress=None, is_cancelled=None, start=0.0, end=1.0, on_info=None):
        self._on_progress = on_progress
        self._is_cancelled = is_cancelled
        self._on_info = on_info
        self.start = start
        self.end = end

    def report(self, fraction):
        if self._on_progress is not None:
            f = min(max(float(fraction), 0.0), 1.0)
            self._on_progress(self.start + (self.end - self.start) * f)
        self.check()

    def check(self):
        if self._is_cancelled is not None and self._is_cancelled():
            raise Cancelled()

    def info(self, text):
        if self._on_info is not None:
            self._on_info(text)

    def sub(self, start, end):
        span = self.end - self.start
        return Progress(self._on_progress, self._is_cancelled, self.start + span * start,
                        self.start + span * end, self._on_info)


NO_PROGRESS = Progress()
