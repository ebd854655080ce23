"""Located problems: what the validator and the test loader report to flow authors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one file, at a 1-based line and column."""

    file: str
    line: int
    col: int
    message: str
    severity: Severity = "error"
    hint: str | None = field(default=None, compare=False)

    def format(self) -> str:
        """`FILE:LINE:COL: message`, the form editors and CI annotators understand."""
        text = f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)
