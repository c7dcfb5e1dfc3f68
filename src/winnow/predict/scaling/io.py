"""Read runs (CSV / JSON / JSONL, including the ``bench.json`` of ``winnow bench``).

One row per training run. Columns are matched case-insensitively against these aliases (the
first present wins; pass ``columns={"D": "my_col"}`` to choose explicitly):

===========  ==========================================================================
canonical    accepted column names
===========  ==========================================================================
``recipe``   recipe, strategy, method, mix, mixture, data_recipe, selector
``N``        N, params, n_params, num_params, parameters, model_params, model_size
``D``        D, tokens, n_tokens, num_tokens, train_tokens, data_size, rows, n_rows,
             examples, n_examples, train_size, samples, budget_rows, budget_tokens, budget
``U``        U, unique_tokens, unique, unique_data (or ``epochs`` / ``repeats``: U = D / epochs)
``loss``     loss, eval_loss, val_loss, valid_loss, test_loss, target_loss, metric, value,
             score, accuracy, acc (or perplexity / ppl: loss = log(ppl))
``seed``     seed
===========  ==========================================================================

Budgets written as ``"10%"`` become 0.1; ``"25k"``, ``"3M"``, ``"1.5B"``, ``"2T"`` are expanded.
A ``metric`` column holding *names* (long format: metric=accuracy, value=0.91) is used to pick
rows with ``metric=...``. JSON may be a list of rows, or an object holding it under ``rows``,
``results``, ``runs`` or ``records`` (``winnow bench`` writes rows of strategy, budget, seed,
metric).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

ALIASES: dict[str, tuple[str, ...]] = {
    "recipe": ("recipe", "strategy", "method", "mix", "mixture", "data_recipe", "selector"),
    "N": ("n", "params", "n_params", "num_params", "parameters", "model_params", "model_size"),
    "D": (
        "d",
        "tokens",
        "n_tokens",
        "num_tokens",
        "train_tokens",
        "data_size",
        "rows",
        "n_rows",
        "examples",
        "n_examples",
        "train_size",
        "samples",
        "budget_rows",
        "budget_tokens",
        "budget",
    ),
    "U": ("u", "unique_tokens", "unique", "unique_data"),
    "epochs": ("epochs", "n_epochs", "repeats"),
    "loss": (
        "loss",
        "eval_loss",
        "val_loss",
        "valid_loss",
        "test_loss",
        "target_loss",
        "metric",
        "value",
        "score",
        "accuracy",
        "acc",
    ),
    "ppl": ("perplexity", "ppl", "target_ppl"),
    "seed": ("seed",),
}
HIGHER_IS_BETTER = re.compile(r"acc|auc|f1|score|precision|recall|exact|pass|win", re.I)
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


@dataclass
class Runs:
    """Runs as numpy columns: ``recipe`` (str), ``N``, ``D``, ``U``, ``loss``, ``seed`` (float;
    missing columns are ``None``). ``metric_name`` is the source column of ``loss``.

    Example:
        >>> r = runs_from_rows([{"strategy": "dsir", "budget": "10%", "seed": 0, "metric": 3.2}])
        >>> r.recipe.tolist(), r.D.tolist(), r.loss.tolist()
        (['dsir'], [0.1], [3.2])
    """

    loss: np.ndarray
    recipe: np.ndarray
    N: np.ndarray | None = None
    D: np.ndarray | None = None
    U: np.ndarray | None = None
    seed: np.ndarray | None = None
    metric_name: str = "loss"
    source: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.loss.size)

    @property
    def higher_is_better(self) -> bool:
        return bool(HIGHER_IS_BETTER.search(self.metric_name)) and "loss" not in self.metric_name.lower()

    def subset(self, mask) -> "Runs":
        m = np.asarray(mask)
        take = lambda a: None if a is None else a[m]  # noqa: E731
        return Runs(
            loss=self.loss[m],
            recipe=self.recipe[m],
            N=take(self.N),
            D=take(self.D),
            U=take(self.U),
            seed=take(self.seed),
            metric_name=self.metric_name,
            source=self.source,
        )

    def recipes(self) -> list[str]:
        return list(dict.fromkeys(self.recipe.tolist()))


def _num(v) -> float:
    if v is None:
        return math.nan
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip().replace(",", "").replace("_", "")
    if not s:
        return math.nan
    if s.endswith("%"):
        return float(s[:-1]) / 100.0
    if s[-1].lower() in _SUFFIX and re.fullmatch(r"[-+]?\d*\.?\d+(e[-+]?\d+)?[kmbgtKMBGT]", s):
        return float(s[:-1]) * _SUFFIX[s[-1].lower()]
    return float(s)


def _is_num(v) -> bool:
    try:
        return not math.isnan(_num(v))
    except (TypeError, ValueError):
        return False


def read_rows(path: str) -> list[dict]:
    """Rows of a CSV/TSV, JSON (list or object with rows/results/runs/records) or JSONL file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"runs file not found: {path}")
    low = path.lower()
    with open(path, newline="") as fh:
        text = fh.read()
    if low.endswith((".jsonl", ".ndjson")):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if low.endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        data = json.loads(text)
        if isinstance(data, dict) and str(data.get("schema", "")).startswith("winnow.prove.bench/"):
            return bench_rows(data)
        if isinstance(data, dict):
            for key in ("rows", "results", "runs", "records", "table"):
                if isinstance(data.get(key), list):
                    return data[key]
            raise ValueError(f"{path}: JSON object has no list under rows/results/runs/records")
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of rows")
        return data
    dialect = "excel-tab" if low.endswith(".tsv") else "excel"
    return list(csv.DictReader(text.splitlines(), dialect=dialect))


def bench_rows(data: dict) -> list[dict]:
    """Rows of a ``winnow bench`` ``bench.json`` for scaling: with several proxies (``task.proxy`` a
    list) one recipe per strategy × budget cell and ``N`` = the proxy's parameters (does the ranking
    hold at a larger proxy?); with one proxy one recipe per strategy and ``D`` = the budget (the
    selected rows' tokens differ between strategies at the same budget, so they are no scale).

    Example:
        >>> rows = bench_rows({"runs": [{"strategy": "dsir", "budget": 0.1, "seed": 0, "metric": 20.0}],
        ...                    "task": {"metric": "perplexity"}})
        >>> rows
        [{'recipe': 'dsir', 'D': 0.1, 'seed': 0, 'perplexity': 20.0}]
    """
    runs = data.get("runs") or []
    proxies = {r.get("proxy") for r in runs}
    metric = str((data.get("task") or {}).get("metric") or "metric")
    name = "perplexity" if metric in ("perplexity", "ppl") else "loss" if "loss" in metric else metric
    out = []
    for r in runs:
        row = {"seed": r.get("seed"), name: r.get("metric")}
        if len(proxies) > 1 and r.get("params") is not None:
            row = {"recipe": f"{r['strategy']}@{r['budget']}", "N": float(r["params"]), **row}
        else:
            row = {"recipe": r["strategy"], "D": r["budget"], **row}
        out.append(row)
    return out


def runs_from_rows(
    rows: list[dict], columns: dict[str, str] | None = None, metric: str | None = None, recipe: str | None = None
) -> Runs:
    """Build :class:`Runs` from row dicts (see the module docstring for accepted columns).

    ``metric`` picks rows of a long-format table (a ``metric`` column of names) or names the
    value column; ``recipe`` keeps only that recipe.
    """
    if not rows:
        raise ValueError("no runs: the input has no rows")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lower = {k.lower().strip(): k for k in keys}
    columns = dict(columns or {})
    for c, v in columns.items():
        if v not in keys:
            raise ValueError(f"column {v!r} (for {c}) not in the input; columns are {keys}")
    # long format: a metric column of names next to a value column
    if "metric" in lower and "metric" not in columns.values():
        mk = lower["metric"]
        if not all(_is_num(r.get(mk)) for r in rows):
            names = sorted({str(r.get(mk)) for r in rows})
            if metric is None and len(names) > 1:
                raise ValueError(f"the input holds several metrics {names}: choose one with metric=")
            want = metric or names[0]
            rows = [r for r in rows if str(r.get(mk)) == want]
            if not rows:
                raise ValueError(f"metric {want!r} not found; available: {names}")
            vk = next((lower[a] for a in ("value", "score", "mean") if a in lower), None)
            if vk is None:
                raise ValueError("long-format input (metric names) needs a value column")
            columns.setdefault("loss", vk)
            metric_name = want
            metric = None
        else:
            metric_name = None
    else:
        metric_name = None
    if metric is not None and "loss" not in columns:
        if metric not in keys:
            raise ValueError(f"metric column {metric!r} not in the input; columns are {keys}")
        columns["loss"] = metric

    def pick(canon: str) -> str | None:
        if canon in columns:
            return columns[canon]
        for a in ALIASES[canon]:
            if a in lower:
                k = lower[a]
                if canon != "recipe" and not any(_is_num(r.get(k)) for r in rows):
                    continue
                return k
        return None

    def col(k: str | None) -> np.ndarray | None:
        if k is None:
            return None
        try:
            return np.array([_num(r.get(k)) for r in rows], dtype=float)
        except (TypeError, ValueError) as e:
            raise ValueError(f"column {k!r} has a non-numeric value: {e}") from None

    lk = pick("loss")
    loss = col(lk)
    name = metric_name or lk
    if lk is None:
        pk = pick("ppl")
        if pk is None:
            raise ValueError(f"no loss/metric column found; columns are {keys} (accepted: {ALIASES['loss']})")
        loss, name = np.log(col(pk)), f"log({pk})"
    rk = pick("recipe")
    rec = np.array([str(r.get(rk, "")) if rk else "all" for r in rows], dtype=object)
    N, D, U = col(pick("N")), col(pick("D")), col(pick("U"))
    ek = pick("epochs")
    if U is None and ek is not None and D is not None:
        U = D / col(ek)
    keep = np.isfinite(loss)
    out = Runs(
        loss=loss,
        recipe=rec,
        N=N,
        D=D,
        U=U,
        seed=col(pick("seed")),
        metric_name=str(name),
        source={"rows": len(rows), "columns": {c: pick(c) for c in ("recipe", "N", "D", "U", "seed")}},
    )
    out.source["columns"]["loss"] = lk
    if recipe is not None:
        if recipe not in set(rec.tolist()):
            raise ValueError(f"recipe {recipe!r} not found; available: {sorted(set(rec.tolist()))}")
        keep &= rec == recipe
    return out.subset(keep)


def load_runs(
    path: str, columns: dict[str, str] | None = None, metric: str | None = None, recipe: str | None = None
) -> Runs:
    """Read a runs file into :class:`Runs`.

    Example (CSV with columns ``recipe,params,tokens,loss,seed``)::

        runs = load_runs("runs.csv")
        fit = fit_runs(runs, law="chinchilla")
    """
    return runs_from_rows(read_rows(path), columns=columns, metric=metric, recipe=recipe)
