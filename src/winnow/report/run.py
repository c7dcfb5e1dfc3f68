"""Gather what a run's report shows: manifest accounting plus bounded samples of its shards.

Everything that reads rows goes through :mod:`winnow.report.sampling` with a row budget, so
the report of a 1 TB run costs about as much as the report of a 1 GB run.
"""

from __future__ import annotations

import heapq
import json
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from winnow.report import plots
from winnow.report.options import ReportOptions
from winnow.report.sampling import Shards, excerpt, reject_shards_by_step

#: numeric columns that are identifiers or bookkeeping, not statistics worth a histogram
NOT_STATS = {"offset", "cluster_id", "duplicate_of", "seed", "row", "index", "task", "shard", "rows"}
#: a column with one of these names counts tokens (funnel shows tokens when present)
TOKEN_COLUMNS = ("n_tokens", "token_count", "num_tokens", "tokens")


class _Source:
    """Shards plus an optional row filter (for rejects files not named by step)."""

    def __init__(self, shards: Shards, where=None):
        self.shards, self.where = shards, where

    def groups(self, columns: list[str], opts: ReportOptions, seed: int):
        cols = list(columns) + (["step"] if self.where is not None else [])
        for g, t in self.shards.iter_groups(cols, max_rows=opts.scan_rows, seed=seed):
            if self.where is not None:
                mask = self.where(t)
                yield g, t, np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
            else:
                yield g, t, None


def _is_stat_type(t: pa.DataType) -> bool:
    return (pa.types.is_integer(t) or pa.types.is_floating(t)) and not pa.types.is_boolean(t)


def _build_steps(config: dict) -> tuple[list, list[str]]:
    """Steps from ``config.steps`` (None where a step cannot be built here) and notes."""
    from winnow.core.pipeline.config import build_step

    steps, notes = [], []
    for i, spec in enumerate((config or {}).get("steps", []) or []):
        try:
            steps.append(build_step(spec, i))
        except Exception as e:  # an unknown or changed step must not prevent the report
            steps.append(None)
            notes.append(f"step {i}: thresholds unavailable ({type(e).__name__}: {e})")
    return steps, notes


def _thresholds(step) -> dict[str, tuple[float | None, float | None]]:
    if step is None or not hasattr(step, "thresholds"):
        return {}
    try:
        out = {}
        for k, v in (step.thresholds() or {}).items():
            lo, hi = v if isinstance(v, (tuple, list)) else (v, None)
            out[k] = (lo, hi)
        return out
    except Exception:
        return {}


def _stat_columns(step) -> list[str]:
    cols = list(_thresholds(step))
    if step is not None and hasattr(step, "stat_columns"):
        try:
            cols += [c for c in step.stat_columns() if c not in cols]
        except Exception:
            pass
    return cols


def _row_dicts(
    t: pa.Table, idx: np.ndarray, stat_cols: list[str], opts: ReportOptions, extra: dict | None = None
) -> list[dict]:
    """Rows ``idx`` of ``t`` as example dicts (id, source, excerpt, length, statistics)."""
    if len(idx) == 0:
        return []
    sub = t.take(pa.array(np.asarray(idx, dtype=np.int64)))
    n = sub.num_rows
    text = sub.column("text") if "text" in sub.column_names else None
    ex = excerpt(text, opts.excerpt_chars) if text is not None else [None] * n
    lens = pc.utf8_length(text).to_pylist() if text is not None and pa.types.is_string(text.type) else [None] * n
    cols = {
        c: sub.column(c).to_pylist()
        for c in ("id", "source", "reason", "duplicate_of", "cluster_id")
        if c in sub.column_names
    }
    stats = {c: sub.column(c).to_pylist() for c in stat_cols if c in sub.column_names}
    out = []
    for i in range(n):
        d = {k: None for k in ("id", "source", "reason", "duplicate_of", "cluster_id")}
        d.update({k: v[i] for k, v in cols.items()})
        d["text"] = ex[i] if ex[i] is not None else ""
        d["chars"] = lens[i]
        d["truncated"] = lens[i] is not None and lens[i] > opts.excerpt_chars
        d["stats"] = {c: _fmt_num(v[i]) for c, v in stats.items()}
        if extra:
            d.update(extra)
        out.append(d)
    return out


def _fmt_num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


class RunData:
    """A run folder opened for reporting: manifest, steps, shard sets."""

    def __init__(self, run_dir: str, opts: ReportOptions):
        from winnow.core.pipeline.manifest import load_manifest

        self.dir = run_dir
        self.opts = opts
        self.m = load_manifest(run_dir)
        self.steps, self.notes = _build_steps(self.m.get("config", {}))
        # populations from the manifest (exact, and no need to open every footer)
        self.data = Shards.from_dir(os.path.join(run_dir, "data"))
        self.data._num_rows = int(self.m["totals"]["rows_kept"])
        by_step, other = reject_shards_by_step(os.path.join(run_dir, "rejects"))
        for i, sh in by_step.items():
            if i < len(self.m["steps"]):
                sh._num_rows = int(self.m["steps"][i]["rows_rejected"])
        self.rej_by_step = by_step
        self.rej_other = other
        self.quarantine = Shards.from_dir(os.path.join(run_dir, "quarantine"))
        mst = self.m.get("steps", [])
        while len(self.steps) < len(mst):
            self.steps.append(None)

    def step_name(self, i: int) -> str:
        return self.m["steps"][i]["name"]

    def rejects(self, i: int) -> list[_Source]:
        """Where the rows rejected by step ``i`` are."""
        out = []
        if i in self.rej_by_step:
            out.append(_Source(self.rej_by_step[i]))
        if len(self.rej_other):
            name = self.step_name(i)
            out.append(
                _Source(
                    self.rej_other,
                    lambda t, n=name: (
                        pc.equal(t.column("step"), n) if "step" in t.column_names else pa.array([False] * t.num_rows)
                    ),
                )
            )
        return out

    def rejects_schema(self, i: int) -> pa.Schema:
        fields: dict[str, pa.Field] = {}
        for s in self.rejects(i):
            for f in s.shards.populated_schema():
                fields.setdefault(f.name, f)
        return pa.schema(list(fields.values()))

    # ------------------------------------------------------------------------------
    def funnel(self) -> dict:
        m = self.m
        read = m["read"]
        stages = [
            {
                "name": "read",
                "rows_in": m["totals"]["rows_in"],
                "rows_kept": read["rows_read"],
                "rows_rejected": read["rows_quarantined"],
                "bytes_in": read["bytes_read"],
                "bytes_kept": read["bytes_read"],
                "seconds": read.get("seconds", 0.0),
                "kind": "read",
                "tokens": None,
            }
        ]
        for s in m["steps"]:
            stages.append(
                {
                    "name": f"{s['index']}. {s['name']}",
                    "rows_in": s["rows_in"],
                    "rows_kept": s["rows_kept"],
                    "rows_rejected": s["rows_rejected"],
                    "bytes_in": s["bytes_in"],
                    "bytes_kept": s["bytes_kept"],
                    "seconds": s["seconds"],
                    "kind": s.get("kind", "map"),
                    "tokens": None,
                }
            )
        tok_col, tokens, exact = self._tokens()
        if tok_col:
            for st, tv in zip(stages, tokens):
                st["tokens"] = tv
        base = max(read["rows_read"], 1)
        for st in stages:
            st["pct_of_step"] = 100.0 * st["rows_kept"] / st["rows_in"] if st["rows_in"] else 100.0
            st["pct_of_read"] = 100.0 * st["rows_kept"] / base
            st["rows_per_s"] = st["rows_in"] / st["seconds"] if st["seconds"] else None
        names = [s["name"] for s in stages]
        series = {"rows": [s["rows_kept"] for s in stages], "bytes": [s["bytes_kept"] for s in stages]}
        if tok_col:
            series["tokens"] = [s["tokens"] for s in stages]
        return {
            "stages": stages,
            "token_column": tok_col,
            "tokens_exact": exact,
            "plot": plots.funnel(names, series),
            "time_plot": plots.timing(names, [float(s["seconds"]) for s in stages]),
        }

    def _sum_column(self, sources: list[_Source], col: str) -> tuple[float, bool]:
        """Sum of ``col`` over sources, scanning at most ``scan_rows`` rows per source;
        extrapolated (and flagged inexact) beyond that."""
        total, exact = 0.0, True
        for src in sources:
            s, n = 0.0, 0
            for g, t, mask in src.groups([col], self.opts, self.opts.seed):
                c = t.column(col)
                if mask is not None:
                    c = c.filter(pa.array(mask))
                s += float(pc.sum(c).as_py() or 0)
                n += len(c)
            pop = src.shards.num_rows
            if src.where is None and n < pop:
                exact = False
                s = s / max(n, 1) * pop
            total += s
        return total, exact

    def _tokens(self) -> tuple[str | None, list, bool]:
        schema = self.data.schema()
        col = next((c for c in TOKEN_COLUMNS if c in schema.names and _is_stat_type(schema.field(c).type)), None)
        if col is None:
            return None, [], True
        n = len(self.m["steps"])
        kept, exact = self._sum_column([_Source(self.data)], col)
        per_step: dict[int, float | None] = {}
        for i in range(n):
            srcs = self.rejects(i)
            if self.m["steps"][i]["rows_rejected"] == 0:
                per_step[i] = 0.0
            elif col in self.rejects_schema(i).names:
                v, ex = self._sum_column(srcs, col)
                per_step[i] = v
                exact &= ex
            else:
                per_step[i] = None
        # tokens left after stage j = kept + rejected by steps after j
        out: list[float | None] = []
        for j in range(-1, n):
            later = [per_step[k] for k in range(j + 1, n)]
            out.append(None if any(v is None for v in later) else kept + sum(later))
        return col, out, exact

    # ------------------------------------------------------------------------------
    def reasons(self) -> list[dict]:
        """Per step: rules with counts, example rejected rows, kept/rejected rows nearest
        each threshold."""
        out = []
        read_rows = max(self.m["read"]["rows_read"], 1)
        for s in self.m["steps"]:
            i = s["index"]
            step = self.steps[i] if i < len(self.steps) else None
            stat_cols = _stat_columns(step)
            examples = self._reason_examples(i, list(s["reasons"]), stat_cols)
            rules = []
            for reason, count in s["reasons"].items():
                rules.append(
                    {
                        "reason": reason,
                        "count": count,
                        "pct_step": 100.0 * count / s["rows_in"] if s["rows_in"] else 0.0,
                        "pct_read": 100.0 * count / read_rows,
                        "examples": examples.get(reason, []),
                    }
                )
            args = {}
            cfg_steps = (self.m.get("config") or {}).get("steps") or []
            if i < len(cfg_steps) and isinstance(cfg_steps[i], dict) and len(cfg_steps[i]) == 1:
                args = next(iter(cfg_steps[i].values())) or {}
            out.append(
                {
                    "index": i,
                    "name": s["name"],
                    "kind": s.get("kind", "map"),
                    "rows_in": s["rows_in"],
                    "rows_kept": s["rows_kept"],
                    "rows_rejected": s["rows_rejected"],
                    "seconds": s["seconds"],
                    "args": json.dumps(args, sort_keys=True, default=str) if args else "",
                    "rules": rules,
                    "near": self._near_threshold(i, step, stat_cols),
                    "anchor": f"step-{i}",
                }
            )
        return out

    def _reason_examples(self, i: int, reasons: list[str], stat_cols: list[str]) -> dict[str, list[dict]]:
        k = self.opts.examples
        need = {r: k for r in reasons}
        found: dict[str, list[dict]] = {r: [] for r in reasons}
        cols = ["id", "source", "text", "reason", "duplicate_of", "cluster_id"] + stat_cols
        for src in self.rejects(i):
            for g, t, mask in src.groups(["reason"], self.opts, self.opts.seed + i):
                if not any(need.values()):
                    break
                vals = t.column("reason").to_numpy(zero_copy_only=False)
                picks: dict[str, np.ndarray] = {}
                for r, left in need.items():
                    if left <= 0:
                        continue
                    hit = vals == r
                    if mask is not None:
                        hit &= mask
                    idx = np.flatnonzero(hit)[:left]
                    if idx.size:
                        picks[r] = idx
                if not picks:
                    continue
                for r, idx in picks.items():
                    rows = src.shards.take(g, idx, cols)
                    found[r].extend(_row_dicts(rows, np.arange(rows.num_rows), stat_cols, self.opts))
                    need[r] -= idx.size
        return found

    def _nearest(self, src: _Source, col: str, bound: float, side: str, k: int) -> list[tuple]:
        """k rows of ``src`` nearest to ``bound`` on one side: ``ge`` (value ≥ bound, smallest
        first) or ``le`` (value ≤ bound, largest first), or strictly ``lt``/``gt``."""
        heap: list[tuple] = []  # (-distance, order, group, row, value) max-heap on distance
        order = 0
        for g, t, mask in src.groups([col], self.opts, self.opts.seed + 7):
            v = t.column(col).to_numpy(zero_copy_only=False).astype(float)
            ok = np.isfinite(v)
            if mask is not None:
                ok &= mask
            ok &= {"ge": v >= bound, "le": v <= bound, "lt": v < bound, "gt": v > bound}[side]
            idx = np.flatnonzero(ok)
            if idx.size == 0:
                continue
            dist = np.abs(v[idx] - bound)
            if idx.size > k:
                part = np.argpartition(dist, k)[:k]
                idx, dist = idx[part], dist[part]
            for r, d in zip(idx, dist):
                order += 1
                item = (-float(d), -order, g, int(r), float(v[r]))
                if len(heap) < k:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
        return sorted(heap, key=lambda x: (-x[0], -x[1]))

    def _fetch(self, src: _Source, hits: list[tuple], stat_cols: list[str]) -> list[dict]:
        rows = []
        by_group: dict[Any, list[int]] = {}
        groups: dict[Any, Any] = {}
        for h in hits:
            by_group.setdefault((h[2].path, h[2].rg), []).append(h[3])
            groups[(h[2].path, h[2].rg)] = h[2]
        fetched: dict[tuple, dict] = {}
        for (path, rg), idx in by_group.items():
            t = src.shards.take(groups[(path, rg)], idx, ["id", "source", "text", "reason"] + stat_cols)
            for r, d in zip(idx, _row_dicts(t, np.arange(t.num_rows), stat_cols, self.opts)):
                fetched[(path, rg, r)] = d
        for h in hits:
            rows.append(fetched[(h[2].path, h[2].rg, h[3])])
        return rows

    def _near_threshold(self, i: int, step, stat_cols: list[str]) -> list[dict]:
        out = []
        data_names = self.data.schema().names
        rej_names = self.rejects_schema(i).names
        k = self.opts.near_examples
        for col, (lo, hi) in _thresholds(step).items():
            for bound, kept_side, rej_side, label in ((lo, "ge", "lt", "min"), (hi, "le", "gt", "max")):
                if bound is None:
                    continue
                kept, rejected = [], []
                if col in data_names:
                    src = _Source(self.data)
                    kept = self._fetch(src, self._nearest(src, col, float(bound), kept_side, k), stat_cols)
                if col in rej_names:
                    for src in self.rejects(i):
                        rejected = self._fetch(src, self._nearest(src, col, float(bound), rej_side, k), stat_cols)
                        if rejected:
                            break
                if kept or rejected:
                    out.append({"column": col, "bound": label, "value": bound, "kept": kept, "rejected": rejected})
        return out

    # ------------------------------------------------------------------------------
    def distributions(self) -> list[dict]:
        """One histogram per numeric statistic column found in data/ or rejects/."""
        owner: dict[str, int] = {}
        thresholds: dict[str, tuple] = {}
        for i, st in enumerate(self.steps):
            for c in _stat_columns(st):
                owner.setdefault(c, i)
            for c, b in _thresholds(st).items():
                if thresholds.get(c, (None, None)) == (None, None) and b != (None, None):
                    thresholds[c] = b  # the first step that bounds the column
                    if (
                        owner.get(c) is not None
                        and owner[c] != i
                        and _thresholds(self.steps[owner[c]]).get(c) in (None, (None, None))
                    ):
                        owner[c] = i
        fields: dict[str, pa.DataType] = {}
        schemas = [self.data.schema()] + [self.rejects_schema(i) for i in range(len(self.m["steps"]))]
        for sch in schemas:
            for f in sch:
                if _is_stat_type(f.type) and f.name not in NOT_STATS and not f.name.endswith("_id"):
                    fields.setdefault(f.name, f.type)
        if not fields:
            return []
        cols = sorted(fields, key=lambda c: (owner.get(c, 1 << 30), c))
        opts = self.opts
        data_s = self.data.sample(cols, max_rows=opts.hist_rows, seed=opts.seed) if len(self.data) else None
        rej_s: dict[int, Any] = {}
        for i in range(len(self.m["steps"])):
            for src in self.rejects(i):
                have = [c for c in cols if c in src.shards.schema().names]
                if not have:
                    continue
                smp = src.shards.sample(
                    have + (["step"] if src.where else []), max_rows=opts.hist_rows, seed=opts.seed + i, where=src.where
                )
                if smp.table.num_rows:
                    rej_s[i] = smp
                    break
        out = []
        for c in cols:
            o = owner.get(c)
            if o is None:  # no step declares it: colour by the first step whose rejects carry it
                o_rej = next((i for i in sorted(rej_s) if c in rej_s[i].table.column_names), None)
            else:
                o_rej = o
            series = []
            sizes = {}
            if data_s is not None and c in data_s.table.column_names:
                v = data_s.table.column(c).to_numpy(zero_copy_only=False)
                series.append(("kept", v, data_s.weight, plots.KEPT))
                sizes["kept"] = (data_s.table.num_rows, data_s.population)
            this, later = [], []
            for i, smp in rej_s.items():
                if c not in smp.table.column_names:
                    continue
                v = smp.table.column(c).to_numpy(zero_copy_only=False)
                entry = (v, smp.weight, smp.table.num_rows, smp.population)
                (this if (o_rej is None or i == o_rej) else later if i > o_rej else []).append(entry)
            if this:
                lab = f"rejected by {o_rej}. {self.step_name(o_rej)}" if o_rej is not None else "rejected"
                series.extend((lab, v, w, plots.THIS) for v, w, _, _ in this)
            if later:
                series.extend(("rejected by later steps", v, w, plots.LATER) for v, w, _, _ in later)
            series = _merge_labels(series)
            lo, hi = thresholds.get(c, (None, None))
            uri, info = plots.histogram(c, series, lo, hi)
            sampled = sum(len(s[1]) for s in series)
            population = int(round(sum(float(np.sum(s[2])) for s in series)))
            out.append(
                {
                    "column": c,
                    "plot": uri,
                    "info": info,
                    "low": lo,
                    "high": hi,
                    "step": f"{o}. {self.step_name(o)}" if o is not None else "",
                    "sampled": sampled,
                    "population": population,
                    "anchor": f"dist-{c}",
                }
            )
        return out

    # ------------------------------------------------------------------------------
    def dedup(self) -> list[dict]:
        """Cluster sizes and example clusters for steps whose rejects carry ``duplicate_of``."""
        out = []
        for s in self.m["steps"]:
            i = s["index"]
            if s["rows_rejected"] == 0 or "duplicate_of" not in self.rejects_schema(i).names:
                continue
            # cluster sizes, counted in Arrow (value_counts per row group, merged by group_by):
            # memory ~ distinct representatives in the scan, no Python object per row
            parts: list[pa.Table] = []
            scanned = 0
            for src in self.rejects(i):
                for g, t, mask in src.groups(["duplicate_of"], self.opts, self.opts.seed):
                    c = t.column("duplicate_of")
                    if mask is not None:
                        c = c.filter(pa.array(mask))
                    c = c.drop_null()
                    scanned += len(c)
                    vc = pc.value_counts(c)
                    parts.append(pa.table({"rep": vc.field("values").cast(pa.string()), "n": vc.field("counts")}))
                    if len(parts) >= 64:
                        parts = [_merge_counts(parts)]
            merged = _merge_counts(parts)
            reps_arr = merged.column("rep")
            n_dups = merged.column("n").to_numpy() if merged.num_rows else np.zeros(0, np.int64)
            uniq, freq = np.unique(n_dups + 1, return_counts=True)
            sizes = dict(zip(uniq.tolist(), freq.tolist()))
            n_top = min(max(self.opts.clusters // 2, 1), merged.num_rows)
            order = np.lexsort((np.arange(merged.num_rows), -n_dups))  # largest first, stable
            pick = list(order[:n_top])
            rest = order[n_top:]
            if rest.size:
                rng = np.random.default_rng(self.opts.seed)
                pick += sorted(rng.choice(rest, min(rest.size, self.opts.clusters - n_top), replace=False).tolist())
            reps = [reps_arr[int(j)].as_py() for j in pick]
            counts = {r: int(n_dups[int(j)]) for r, j in zip(reps, pick)}
            clusters = self._clusters(i, reps, counts)
            n_clusters = merged.num_rows
            docs_in_clusters = int(n_dups.sum() + n_clusters)
            out.append(
                {
                    "index": i,
                    "name": s["name"],
                    "duplicates": s["rows_rejected"],
                    "scanned": scanned,
                    "complete": scanned >= s["rows_rejected"],
                    "clusters": n_clusters,
                    "largest": max(sizes) if sizes else 0,
                    "docs_in_clusters": docs_in_clusters,
                    "plot": plots.cluster_sizes(dict(sizes)) if sizes else None,
                    "size_table": sorted(sizes.items())[:12],
                    "examples": clusters,
                    "anchor": f"dedup-{i}",
                }
            )
        return out

    def _clusters(self, i: int, reps: list[str], counts: dict[str, int]) -> list[dict]:
        if not reps:
            return []
        k = self.opts.examples
        members: dict[str, list[dict]] = {r: [] for r in reps}
        want = pa.array(reps, pa.string())
        for src in self.rejects(i):
            for g, t, mask in src.groups(["duplicate_of"], self.opts, self.opts.seed + 3):
                if all(len(v) >= k for v in members.values()):
                    break
                hit = pc.is_in(t.column("duplicate_of"), value_set=want).to_numpy(zero_copy_only=False)
                hit = np.asarray(hit, dtype=bool)
                if mask is not None:
                    hit &= mask
                if not hit.any():
                    continue
                full = src.shards.take(
                    g, np.flatnonzero(hit), ["id", "source", "text", "duplicate_of", "cluster_id", "reason"]
                )
                dups = full.column("duplicate_of").to_pylist()
                for r, rep in enumerate(dups):
                    if len(members[rep]) < k:
                        members[rep].extend(_row_dicts(full, np.array([r]), [], self.opts))
        # the representatives: kept rows (data/), or rows a later step rejected
        found: dict[str, dict] = {}
        sources = [_Source(self.data)] + [src for j in range(i + 1, len(self.m["steps"])) for src in self.rejects(j)]
        for src in sources:
            if len(found) == len(reps) or not len(src.shards) or "id" not in src.shards.schema().names:
                continue
            for g, t, mask in src.groups(["id"], self.opts, self.opts.seed):
                hit = np.asarray(pc.is_in(t.column("id"), value_set=want).to_numpy(zero_copy_only=False), bool)
                if mask is not None:
                    hit &= mask
                if hit.any():
                    full = src.shards.take(g, np.flatnonzero(hit), ["id", "source", "text", "cluster_id", "reason"])
                    for d in _row_dicts(full, np.arange(full.num_rows), [], self.opts):
                        found.setdefault(d["id"], d)
                if len(found) == len(reps):
                    break
        return [{"rep_id": r, "size": counts[r] + 1, "rep": found.get(r), "members": members[r]} for r in reps]

    # ------------------------------------------------------------------------------
    def quarantine_examples(self) -> list[dict]:
        if not len(self.quarantine):
            return []
        smp = self.quarantine.sample(
            ["file", "offset", "rows", "error", "raw"], max_rows=self.opts.examples * 2, seed=self.opts.seed
        )
        t = smp.table
        out = []
        raw = excerpt(t.column("raw"), 300) if "raw" in t.column_names else [None] * t.num_rows
        for i, row in enumerate(t.drop_columns([c for c in ("raw",) if c in t.column_names]).to_pylist()):
            row["raw"] = raw[i] or ""
            out.append(row)
        return out


def _merge_counts(parts: list[pa.Table]) -> pa.Table:
    """Sum ``n`` per ``rep`` over value-count tables."""
    if not parts:
        return pa.table({"rep": pa.array([], pa.string()), "n": pa.array([], pa.int64())})
    t = pa.concat_tables(parts).group_by("rep").aggregate([("n", "sum")])
    return t.rename_columns(["rep" if c == "rep" else "n" for c in t.column_names]).select(["rep", "n"])


def _merge_labels(series: list[tuple]) -> list[tuple]:
    """Concatenate series sharing a label (samples differ in weight, so one weight per value)."""
    merged: dict[str, list] = {}
    for label, v, w, c in series:
        v = np.asarray(v, dtype=float)
        if label in merged:
            merged[label][0].append(v)
            merged[label][1].append(np.full(v.size, w))
        else:
            merged[label] = [[v], [np.full(v.size, w)], c]
    return [(label, np.concatenate(vs), np.concatenate(ws), c) for label, (vs, ws, c) in merged.items()]


def collect_run(run_dir: str, opts: ReportOptions | None = None) -> dict:
    """Everything the run part of the report shows, as plain data for the template."""
    opts = opts or ReportOptions()
    rd = RunData(run_dir, opts)
    m = rd.m
    tot = m["totals"]
    return {
        "path": os.path.abspath(run_dir),
        "manifest": m,
        "totals": tot,
        "read": m["read"],
        "checks": m.get("checks", {}),
        "funnel": rd.funnel(),
        "steps": rd.reasons(),
        "distributions": rd.distributions(),
        "dedup": rd.dedup(),
        "quarantine": rd.quarantine_examples(),
        "config_json": json.dumps(m.get("config", {}), indent=2, sort_keys=False, default=str),
        "notes": rd.notes,
        "budgets": {"hist_rows": opts.hist_rows, "scan_rows": opts.scan_rows},
    }
