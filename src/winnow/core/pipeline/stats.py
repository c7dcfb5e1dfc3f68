"""Per-step counters and their aggregation into the manifest.

Counts are kept per (stage, task) in completion markers and summed at the end, so a resumed
run reports exactly what an uninterrupted run would.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StepStats:
    index: int
    name: str
    kind: str = "map"
    rows_in: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    bytes_in: int = 0
    bytes_kept: int = 0
    bytes_rejected: int = 0
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "kind": self.kind,
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "rows_rejected": self.rows_rejected,
            "bytes_in": self.bytes_in,
            "bytes_kept": self.bytes_kept,
            "bytes_rejected": self.bytes_rejected,
            "seconds": round(self.seconds, 6),
            "reasons": dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "StepStats":
        s = cls(d["index"], d["name"], d.get("kind", "map"))
        for k in ("rows_in", "rows_kept", "rows_rejected", "bytes_in", "bytes_kept", "bytes_rejected"):
            setattr(s, k, int(d.get(k, 0)))
        s.seconds = float(d.get("seconds", 0.0))
        s.reasons = Counter(d.get("reasons", {}))
        return s

    def merge(self, other: "StepStats") -> None:
        for k in ("rows_in", "rows_kept", "rows_rejected", "bytes_in", "bytes_kept", "bytes_rejected"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.seconds += other.seconds
        self.reasons.update(other.reasons)


@dataclass
class ReadStats:
    rows_read: int = 0
    bytes_read: int = 0
    rows_quarantined: int = 0
    quarantine_entries: int = 0
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "bytes_read": self.bytes_read,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_entries": self.quarantine_entries,
            "errors": dict(self.errors),
            "seconds": round(self.seconds, 6),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ReadStats":
        return cls(
            int(d.get("rows_read", 0)),
            int(d.get("bytes_read", 0)),
            int(d.get("rows_quarantined", 0)),
            int(d.get("quarantine_entries", 0)),
            Counter(d.get("errors", {})),
            float(d.get("seconds", 0.0)),
        )

    def merge(self, o: "ReadStats") -> None:
        self.rows_read += o.rows_read
        self.bytes_read += o.bytes_read
        self.rows_quarantined += o.rows_quarantined
        self.quarantine_entries += o.quarantine_entries
        self.errors.update(o.errors)
        self.seconds += o.seconds


def error_kind(message: str) -> str:
    """Short category of a quarantine error message (the text before the first colon)."""
    return message.split(":", 1)[0].strip()[:80]
