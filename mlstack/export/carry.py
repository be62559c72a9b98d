"""What a target cannot carry, per service and key, and what mlstack did instead.

Every export collects these notes; ``export`` prints them, ``export --check`` prints them and
exits 1 when there is any. A setting is mapped, refused (an error), or listed here: never
dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlstack.render.plan import PlannedFile

OUT = "{out}"  # the export folder, in next steps (the export itself does not know where it goes)


@dataclass(frozen=True)
class Note:
    """One setting a target cannot carry as it is."""

    service: str
    key: str
    problem: str  # what the target cannot do
    instead: str  # what mlstack did instead

    def __str__(self) -> str:
        return f"{self.service}: {self.key}: {self.problem}; instead: {self.instead}"

    def as_dict(self) -> dict[str, str]:
        """The JSON form (``--json``)."""
        return {
            "service": self.service,
            "key": self.key,
            "problem": self.problem,
            "instead": self.instead,
        }


def unknown_keys(service: str, extra: dict[str, object], target: str) -> list[Note]:
    """Compose keys no export maps (from a user's fragment): listed, left out."""
    return [
        Note(service, key, f"{target} has no mapping for this compose key", "left out")
        for key in sorted(extra)
    ]


@dataclass(frozen=True)
class ExportResult:
    """An export: its files (paths inside the output folder), its notes, what to run next."""

    target: str
    files: list[PlannedFile]
    notes: list[Note]
    next_steps: list[str] = field(default_factory=list)
