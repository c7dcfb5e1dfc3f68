"""Budgets of a report (light module: no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReportOptions:
    """Budgets of the report (rows read per population, rows scanned for examples)."""

    #: rows sampled per population (kept rows; each step's rejects) for histograms
    hist_rows: int = 100_000
    #: rows of a single small column scanned to find examples / clusters / token sums
    scan_rows: int = 2_000_000
    #: examples shown per rule and per cluster
    examples: int = 3
    #: documents shown on each side of each threshold (just kept / just rejected)
    near_examples: int = 3
    #: characters of text shown per example
    excerpt_chars: int = 600
    #: example clusters shown per dedup step
    clusters: int = 4
    seed: int = 0
