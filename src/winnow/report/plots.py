"""Report figures: matplotlib (no pyplot, no display) rendered to SVG data URIs.

Figures are embedded as ``<img src="data:image/svg+xml;base64,...">``: the page stays
self-contained, and an image can never run script, whatever text ends up in a label.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Sequence

import numpy as np

KEPT = "#2e7d32"
THIS = "#c62828"
LATER = "#9e9e9e"
ACCENT = "#1565c0"
PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#455a64", "#9e9d24"]


def _figure(w: float, h: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    return fig


def to_data_uri(fig) -> str:
    """Render a figure as a base64 SVG data URI (deterministic: fixed ids, no date)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "winnow"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _human(n: float) -> str:
    if n is None:
        return "—"
    a = abs(n)
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.4g}" if isinstance(n, float) and not float(n).is_integer() else f"{int(n)}"


def _plain_log_ticks(axis) -> None:
    """Log axis with 1-2-5 ticks labelled as plain numbers and unlabelled minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def funnel(stages: Sequence[str], series: dict[str, Sequence[float | None]]) -> str:
    """Horizontal bars: what is left after each stage, one panel per measure (rows, bytes,
    tokens), as a share of what was read, annotated with absolute values."""
    n = len(series)
    fig = _figure(4.0 * n, 0.45 * len(stages) + 1.2)
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    y = np.arange(len(stages))[::-1]
    for ax, (label, vals) in zip(axes, series.items()):
        base = next((v for v in vals if v), None) or 1
        first_known = vals[0] is not None
        pct = [0 if v is None else 100.0 * v / base for v in vals]
        ax.barh(y, pct, color=[ACCENT if i == 0 else KEPT for i in range(len(vals))], height=0.6)
        for yi, p, v in zip(y, pct, vals):
            ax.text(min(p, 100) + 1.5, yi, "n/a" if v is None else f"{_human(v)} ({p:.1f}%)", va="center", fontsize=8)
        ax.set_xlim(0, 150)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_title(f"{label} left", fontsize=10)
        ax.set_xlabel("% of read" if first_known else "% of first stage measured")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_yticks(y, list(stages), fontsize=9)
    fig.tight_layout()
    return to_data_uri(fig)


def timing(stages: Sequence[str], seconds: Sequence[float]) -> str:
    fig = _figure(6.0, 0.4 * len(stages) + 1.0)
    ax = fig.subplots()
    y = np.arange(len(stages))[::-1]
    ax.barh(y, seconds, color=LATER, height=0.6)
    top = max(max(seconds, default=0), 1e-9)
    for yi, s in zip(y, seconds):
        ax.text(s + top * 0.01, yi, f"{s:.2f} s", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.25)
    ax.set_yticks(y, list(stages), fontsize=9)
    ax.set_xlabel("seconds (summed over workers)")
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def histogram(
    column: str,
    series: list[tuple[str, np.ndarray, float, str]],
    low: float | None,
    high: float | None,
    *,
    bins: int = 50,
) -> tuple[str, dict]:
    """Stacked histogram of one statistic with the step's thresholds drawn.

    ``series`` = ``[(label, values, weight, colour)]``; ``weight`` (a number or one per value)
    scales sampled rows back to estimated documents. Returns the data URI and facts for the caption (range, clipping,
    log scale).
    """
    vals, wts = [], []
    for _, v, w, _ in series:
        v = np.asarray(v, dtype=float)
        w = np.broadcast_to(np.asarray(w, dtype=float), v.shape)
        ok = np.isfinite(v)
        vals.append(v[ok])
        wts.append(w[ok])
    allv = np.concatenate(vals) if vals else np.array([])
    info = {"n": int(allv.size), "log": False, "outside": 0, "lo": None, "hi": None}
    fig = _figure(5.2, 2.8)
    ax = fig.subplots()
    if allv.size == 0:
        ax.text(0.5, 0.5, "no values in the sample", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return to_data_uri(fig), info
    vmin, vmax = float(allv.min()), float(allv.max())
    lo, hi = float(np.percentile(allv, 0.5)), float(np.percentile(allv, 99.5))
    for t in (low, high):  # keep thresholds in view when they fall inside the data
        if t is not None and vmin <= t <= vmax:
            lo, hi = min(lo, float(t)), max(hi, float(t))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    med = float(np.median(allv))
    use_log = vmin >= 0 and hi > 0 and hi / max(med, 1.0) > 30
    integer = bool(np.all(np.mod(allv, 1) == 0))
    if use_log:
        pos = allv[allv > 0]
        start = max(lo, float(pos.min()) if pos.size else 1.0, 1.0 if integer else 1e-9)
        edges = np.geomspace(start, max(hi, start * 1.01), bins + 1)
        ax.set_xscale("log")
        if edges[-1] / edges[0] < 1e3:  # few decades: label 1-2-5 ticks instead of crowded minors
            _plain_log_ticks(ax.xaxis)
    elif integer and hi - lo <= 60:
        edges = np.arange(math.floor(lo), math.floor(hi) + 2) - 0.5
    else:
        edges = np.linspace(lo, hi, bins + 1)
    info.update(log=use_log, lo=float(edges[0]), hi=float(edges[-1]))
    info["outside"] = int(((allv < edges[0]) | (allv > edges[-1])).sum())
    data, weights, labels, colours = [], [], [], []
    for (label, _, _, c), v, w in zip(series, vals, wts):
        if v.size == 0:
            continue
        data.append(np.clip(v, edges[0], edges[-1]))
        weights.append(w)
        labels.append(label)
        colours.append(c)
    bottom = np.zeros(len(edges) - 1)
    for v, w, label, c in zip(data, weights, labels, colours):  # stacked: one filled step patch per series
        h, _ = np.histogram(v, bins=edges, weights=w)
        ax.stairs(bottom + h, edges, baseline=bottom.copy(), fill=True, color=c, alpha=0.85, label=label)
        bottom = bottom + h
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.08)
    for t, name in ((low, "min"), (high, "max")):
        if t is not None:
            ax.axvline(float(t), color="black", linestyle="--", linewidth=1.2)
            ax.text(float(t), 1.0, f" {name} {t:g}", transform=ax.get_xaxis_transform(), va="bottom", fontsize=8)
    if low is not None:
        ax.axvspan(edges[0], max(min(float(low), edges[-1]), edges[0]), color=THIS, alpha=0.06)
    if high is not None:
        ax.axvspan(min(max(float(high), edges[0]), edges[-1]), edges[-1], color=THIS, alpha=0.06)
    ax.set_xlabel(column + (" (log scale)" if use_log else ""))
    ax.set_ylabel("documents (est.)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False)
    return to_data_uri(fig), info


def cluster_sizes(sizes: dict[int, int]) -> str:
    """Number of duplicate clusters by size (log-log when sizes spread)."""
    fig = _figure(5.2, 2.8)
    ax = fig.subplots()
    xs = np.array(sorted(sizes), dtype=float)
    ys = np.array([sizes[int(x)] for x in xs], dtype=float)
    ax.bar(xs, ys, width=0.8 if xs.size == 0 or xs.max() <= 40 else xs * 0.15, color=ACCENT)
    if xs.size and xs.max() > 40:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
    if ys.size and ys.max() / max(ys.min(), 1) > 50:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    if ax.get_yscale() == "linear":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.get_xscale() == "linear":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("cluster size (documents, representative included)")
    ax.set_ylabel("clusters")
    ax.spines[["top", "right"]].set_visible(False)
    return to_data_uri(fig)


def metric_vs_budget(
    title: str,
    metric: str,
    curves: dict[str, list[tuple[float, float, float | None, float | None]]],
    points: dict[str, list[tuple[float, float]]],
    xlabels: list[str] | None,
    reference: float | None = None,
    log_y: bool = False,
) -> str:
    """Metric against budget, one line per strategy, 95% CI as error bars, seeds as dots;
    ``reference`` (e.g. training on the full pool) as a dotted line."""
    fig = _figure(6.4, 3.6)
    ax = fig.subplots()
    for i, (name, pts) in enumerate(sorted(curves.items())):
        c = PALETTE[i % len(PALETTE)]
        pts = sorted(pts)
        x = np.array([p[0] for p in pts])
        m = np.array([p[1] for p in pts])
        lo = np.array([p[1] - p[2] if p[2] is not None else 0 for p in pts])
        hi = np.array([p[3] - p[1] if p[3] is not None else 0 for p in pts])
        ax.errorbar(
            x,
            m,
            yerr=[np.maximum(lo, 0), np.maximum(hi, 0)],
            color=c,
            marker="o",
            capsize=3,
            label=name,
            linewidth=1.5,
            markersize=4,
        )
        if name in points and points[name]:
            px, py = zip(*points[name])
            ax.scatter(px, py, color=c, alpha=0.35, s=10)
    if reference is not None:
        ax.axhline(reference, color="grey", linestyle=":", label="full pool")
    if log_y:
        ax.set_yscale("log")
    if xlabels:
        ax.set_xticks(range(len(xlabels)), xlabels)
    ax.set_xlabel("budget")
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False)
    return to_data_uri(fig)
