"""Read a ``winnow mix`` output folder (``mix.json`` + ``mix.png``) for the report."""

from __future__ import annotations

import base64
import json
import os


def find_mix_json(path: str) -> str | None:
    if os.path.isfile(path) and os.path.basename(path) == "mix.json":
        return path
    p = os.path.join(path, "mix.json")
    return p if os.path.exists(p) else None


def collect_mix(path: str) -> dict:
    """Weights per group, the regression's CV Spearman, the validation with CIs, and the plot."""
    p = find_mix_json(path)
    if p is None:
        raise FileNotFoundError(f"{path} has no mix.json")
    with open(p, encoding="utf-8") as fh:
        data = json.load(fh)
    groups = [
        {
            "name": k,
            "docs": g.get("docs"),
            "tokens": g.get("tokens"),
            "natural": data["natural"].get(k),
            "uniform": data["uniform"].get(k),
            "chosen": w,
            "max": min(g.get("max_weight", 1.0), 1.0),
        }
        for k, w in data["weights"].items()
        for g in [data["groups"].get(k, {})]
    ]
    png = os.path.join(os.path.dirname(p), "mix.png")
    plot = None
    if os.path.exists(png):
        with open(png, "rb") as fh:
            plot = "data:image/png;base64," + base64.b64encode(fh.read()).decode("ascii")
    v = data.get("validation") or {}
    return {
        "path": os.path.abspath(p),
        "group_by": data.get("group_by"),
        "groups": groups,
        "objective": data.get("objective", {}).get("evals", {}),
        "regression": data.get("regression", {}),
        "proxy": data.get("proxy", {}),
        "mixtures": v.get("mixtures", {}),
        "gains": v.get("gains", {}),
        "seeds": v.get("seeds", []),
        "plot": plot,
    }
