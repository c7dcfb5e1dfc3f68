"""Plots (matplotlib, Agg backend, PNG): fitted law with its interval and held-out points;
recipes across scales."""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fit(fit, runs, path: str, title: str | None = None, extend: float = 4.0) -> str:
    """Loss vs size on log axes: fitted runs, the fit, its bootstrap band, held-out runs.

    For two-axis laws one curve per distinct N (D on the x-axis)."""
    plt = _plt()
    axis = fit.extra.get("axis", "D")
    x_all = runs.N if axis == "N" else runs.D
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    held = fit.extra.get("held_out")
    hx = np.asarray(held["N"] if (held and axis == "N") else (held["D"] if held else []), dtype=float)
    is_held = np.isin(x_all, hx) if hx.size else np.zeros(len(runs), bool)
    lo_x, hi_x = float(np.min(x_all)), float(np.max(x_all)) * (extend if not hx.size else 1.5)
    grid = np.geomspace(lo_x, hi_x, 200)
    two_axis = "N" in fit.law.inputs
    groups = np.unique(runs.N) if two_axis else [None]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, nval in enumerate(groups):
        c = colors[gi % len(colors)]
        m = np.ones(len(runs), bool) if nval is None else runs.N == nval
        inputs = {"D": grid}
        if two_axis:
            inputs["N"] = np.full_like(grid, nval)
        if "U" in fit.law.inputs:
            u = runs.U[m]
            inputs["U"] = np.minimum(grid, np.max(u))  # unique data capped at what the runs had
        lab = "" if nval is None else f"N={nval:.3g}"
        if fit.boot is not None and len(fit.boot):
            pred, lo, hi = fit.predict(interval=True, **inputs)
            ax.fill_between(
                grid, lo, hi, color=c, alpha=0.2, lw=0, label=f"{int(fit.level * 100)}% CI" if gi == 0 else None
            )
        else:
            pred = fit.predict(**inputs)
        ax.plot(grid, pred, color=c, lw=1.5, label=("fit " + lab).strip())
        xs = x_all[m]
        ax.scatter(xs[~is_held[m]], runs.loss[m][~is_held[m]], color=c, s=14, zorder=3)
        if is_held[m].any():
            ax.scatter(
                xs[is_held[m]],
                runs.loss[m][is_held[m]],
                facecolor="none",
                edgecolor="k",
                s=40,
                zorder=4,
                label="held out" if gi == 0 else None,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(axis if axis != "D" else "D (data)")
    ax.set_ylabel(fit.extra.get("metric", "loss"))
    p = fit.params
    ttl = title or f"{fit.law.name}: " + ", ".join(f"{k}={v:.3g}" for k, v in p.items())
    ax.set_title(ttl, fontsize=9)
    return _save(plt, fig, ax, path)


def plot_transfer(report: dict, path: str) -> str:
    """Metric vs scale per recipe (mean ± 2 s.e.), observed crossings marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    sc = np.asarray(report["scales"])
    mean = np.asarray(report["mean"], dtype=float)
    se = np.nan_to_num(np.asarray(report["se"], dtype=float))
    for i, r in enumerate(report["recipes"]):
        ax.errorbar(sc, mean[i], yerr=2 * se[i], marker="o", ms=4, capsize=2, label=r)
    for c in report["crossings"]:
        ax.axvline(c["at"], color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(report["scale"])
    ax.set_ylabel(report["metric"])
    rho = report["min_spearman_vs_largest"]
    ax.set_title(f"recipes across scales (min Spearman vs largest = {rho:.2f})", fontsize=9)
    return _save(plt, fig, ax, path)


def _save(plt, fig, ax, path: str) -> str:
    """Legend, grid, layout; write the PNG and free the figure."""
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
