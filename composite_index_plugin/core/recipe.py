"""The recipe: one versioned JSON document describing a whole assessment, and its validator."""
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
