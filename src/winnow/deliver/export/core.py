"""Export a winnow run (or Parquet files) as training-ready token shards.

Phases (each task's outputs are written atomically and committed by a completion marker under
``OUT/_work/``, as in :mod:`winnow.core.pipeline.runner`; ``resume=True`` skips committed tasks):

1. **tokenize** (parallel over input row-group chunks): ids of every document (no EOS) → a flat
   token file per task, plus a per-document index (shuffle key, offset, length, group, split).
   A document's keys are hashes of ``(seed, id)``, so nothing depends on how the input is split
   or how many workers run.
2. **plan** (one pass over the small indexes): per-group token totals → mix targets → whole
   epochs per group plus the seeded partial epoch (documents in order of a second hash until the
   target is reached; an out-of-core histogram finds the boundary).
3. **scatter** (parallel over tasks): each (document, copy) gets a random 64-bit key; references
   (key, offset, length) are sorted by key and cut into ``2^k`` key-range buckets.
4. **gather** (parallel over buckets): a bucket's references from every task, sorted by key,
   their tokens copied out with EOS after each document. Concatenating buckets in order is a
   global sort by random key = a seeded global shuffle; memory is one bucket.
5. **shards** (parallel over shards): the stream cut into shards of the chosen format, each with
   its sha256; then ``manifest.json``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import multiprocessing as mp
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from winnow.core.pipeline.runner import write_json_atomic
from winnow.core.spawn import main_not_reimported
from winnow.core.text.hashing import splitmix64
from winnow.deliver.export.tokenizer import load_tokenizer
from winnow.errors import WinnowError

FORMATS = ("bin", "parquet", "mds")
SPLITS = ("train", "val")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C_VAL = np.uint64(0xD1B54A32D192ED03)
_C_PART = np.uint64(0x8CB92BA72F3D8DD7)
_DOC = np.dtype([("key", "<u8"), ("start", "<i8"), ("ntok", "<i8"), ("group", "<i4"), ("val", "u1")])
_REF = np.dtype([("skey", "<u8"), ("start", "<i8"), ("ntok", "<i8"), ("group", "<i4")])
WORK_VERSION = 1


class ExportError(WinnowError, ValueError):
    """Bad export input or options (one-line message)."""


class ExportExistsError(ExportError):
    """The output folder holds a finished or unfinished export (use overwrite or resume)."""


@dataclass
class ExportConfig:
    """Everything that determines the output bytes (stored in ``_work/config.json``; a resume
    with different values is refused)."""

    files: list[str]
    tokenizer: str
    seq_len: int = 2048
    format: str = "bin"
    seed: int = 0
    val_fraction: float = 0.005
    weights: dict | None = None
    group_by: str = "source"
    tokens: int | None = None
    keep_boundaries: bool = False
    text_column: str = "text"
    id_column: str = "id"
    task_rows: int = 50_000
    bucket_tokens: int = 16 << 20
    shard_tokens: int | None = None
    mds_size_limit: int = 1 << 26
    tokenizer_sha256: str = ""
    dtype: str = "uint16"

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


# ------------------------------------------------------------------ inputs and mix


def resolve_inputs(source) -> list[str]:
    """A run folder (its ``data/*.parquet``), a folder of Parquet files, files or globs."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[str] = []
    for it in map(str, items):
        if os.path.isdir(it):
            d = os.path.join(it, "data") if os.path.isdir(os.path.join(it, "data")) else it
            found = sorted(glob.glob(os.path.join(d, "*.parquet")))
            if not found:
                raise ExportError(f"no Parquet files in {d}")
            files += found
        elif any(c in it for c in "*?["):
            found = sorted(glob.glob(it))
            if not found:
                raise ExportError(f"no files match {it}")
            files += found
        elif os.path.exists(it):
            files.append(it)
        else:
            raise ExportError(f"input not found: {it}")
    bad = [f for f in files if not f.endswith(".parquet")]
    if bad:
        raise ExportError(f"export reads Parquet (a winnow run's data/); not Parquet: {bad[0]}")
    return [os.path.abspath(f) for f in files]


def load_mix(mix) -> tuple[dict[str, float], str]:
    """A mix (path to JSON, or dict) → (weights, group_by); see the package docstring for the schema."""
    if mix is None:
        return None, "source"
    if isinstance(mix, (str, os.PathLike)):
        try:
            with open(mix, encoding="utf-8") as fh:
                mix = json.load(fh)
        except (OSError, json.JSONDecodeError) as e:
            raise ExportError(f"cannot read mix {mix}: {e}") from None
    if not isinstance(mix, dict) or not isinstance(mix.get("weights"), dict) or not mix["weights"]:
        raise ExportError('mix must be {"weights": {group: weight, ...}, "group_by": "source"}')
    w = {}
    for k, v in mix["weights"].items():
        if not isinstance(v, (int, float)) or v < 0 or not math.isfinite(v):
            raise ExportError(f"mix weight of {k!r} must be a finite number >= 0, got {v!r}")
        w[str(k)] = float(v)
    if sum(w.values()) <= 0:
        raise ExportError("mix weights sum to 0")
    return w, str(mix.get("group_by", "source"))


def _tasks(files: list[str], task_rows: int) -> list[tuple[str, list[int]]]:
    """Input cut into (file, row groups) chunks of about ``task_rows`` rows (input-defined)."""
    out = []
    for f in files:
        md = pq.ParquetFile(f).metadata
        cur, n = [], 0
        for rg in range(md.num_row_groups):
            cur.append(rg)
            n += md.row_group(rg).num_rows
            if n >= task_rows:
                out.append((f, cur))
                cur, n = [], 0
        if cur:
            out.append((f, cur))
    return out


# ------------------------------------------------------------------ layout


class Layout:
    def __init__(self, out: str):
        self.out = out
        self.work = os.path.join(out, "_work")

    def p(self, *parts) -> str:
        return os.path.join(self.work, *parts)

    def marker(self, phase: str, name: str) -> str:
        return self.p("done", phase, f"{name}.json")

    def done(self, phase: str, name: str) -> dict | None:
        path = self.marker(phase, name)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)

    def commit(self, phase: str, name: str, info: dict) -> dict:
        write_json_atomic(self.marker(phase, name), info)
        return info


def _atomic_save(path: str, write) -> None:
    """``write(tmp_path)`` then rename into place: a file exists under its name only when complete."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def _save_npy(path: str, arr: np.ndarray) -> None:
    def w(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, arr)

    _atomic_save(path, w)


# ------------------------------------------------------------------ keys


def _hash_ids(ids: list, seed: int) -> np.ndarray:
    import xxhash

    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h(str(i).encode("utf-8"), seed) for i in ids), np.uint64, len(ids))


def _u01(x: np.ndarray) -> np.ndarray:
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _partial_key(key: np.ndarray) -> np.ndarray:
    return splitmix64(key ^ _C_PART)


def _copy_keys(key: np.ndarray, copy: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return splitmix64(key + (copy.astype(np.uint64) + np.uint64(1)) * _GOLDEN)


# ------------------------------------------------------------------ phase 1: tokenize


def _tokenize_task(cfg: ExportConfig, lay: Layout, t: int, task) -> dict:
    path, rgs = task
    tok = load_tokenizer(cfg.tokenizer)
    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    if cfg.text_column not in names:
        raise ExportError(f"{path} has no {cfg.text_column!r} column")
    cols = [cfg.text_column] + [c for c in (cfg.id_column, cfg.group_by) if c in names]
    dtype = np.dtype(cfg.dtype)
    groups: dict[str, int] = {}
    docs_parts, n_rows, n_empty, n_tokens = [], 0, 0, 0
    row0 = sum(pf.metadata.row_group(i).num_rows for i in range(rgs[0]))  # rows of the file before this task
    tmp = lay.p("tok", f"t{t:05d}.bin") + f".tmp-{os.getpid()}"
    os.makedirs(os.path.dirname(tmp), exist_ok=True)
    with open(tmp, "wb") as fh:
        for tb in _text_batches(pf, rgs, cols, cfg.text_column):
            texts = tb.column(cfg.text_column).to_pylist()
            texts = ["" if x is None else x for x in texts]
            ids = (
                tb.column(cfg.id_column).to_pylist()
                if cfg.id_column in names
                else [f"{os.path.basename(path)}:{row0 + n_rows + i}" for i in range(len(texts))]
            )
            grp = tb.column(cfg.group_by).to_pylist() if cfg.group_by in names else ["default"] * len(texts)
            flat, lens = tok.encode_flat(texts)
            flat.astype(dtype).tofile(fh)
            d = np.zeros(len(texts), _DOC)
            d["key"] = _hash_ids(ids, cfg.seed)
            d["start"] = n_tokens + np.concatenate([[0], np.cumsum(lens)[:-1]]) if len(lens) else 0
            d["ntok"] = lens
            d["group"] = [groups.setdefault("default" if g is None else str(g), len(groups)) for g in grp]
            d["val"] = _u01(splitmix64(d["key"] ^ _C_VAL)) < cfg.val_fraction
            n_empty += int((lens == 0).sum())
            docs_parts.append(d[lens > 0])
            n_tokens += int(lens.sum())
            n_rows += len(texts)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, lay.p("tok", f"t{t:05d}.bin"))
    docs = np.concatenate(docs_parts) if docs_parts else np.zeros(0, _DOC)
    _save_npy(lay.p("tok", f"t{t:05d}.docs.npy"), docs)
    return lay.commit(
        "tokenize",
        f"t{t:05d}",
        {"task": t, "rows": n_rows, "empty": n_empty, "tokens": n_tokens, "groups": list(groups)},
    )


_BATCH_BYTES = 4 << 20


def _text_batches(pf, rgs, cols, text_column):
    """Tables of at most 2048 rows and about ``_BATCH_BYTES`` of text (memory bounded by bytes)."""
    import pyarrow.compute as pc

    for batch in pf.iter_batches(batch_size=2048, row_groups=rgs, columns=cols):
        tb = pa.Table.from_batches([batch])
        nbytes = np.cumsum(pc.fill_null(pc.binary_length(tb.column(text_column)), 0).to_numpy(zero_copy_only=False))
        start = 0
        while start < tb.num_rows:
            base = nbytes[start - 1] if start else 0
            end = max(start + 1, int(np.searchsorted(nbytes, base + _BATCH_BYTES, side="right")))
            yield tb.slice(start, end - start)
            start = end


def _load_docs(lay: Layout, t: int, group_map: np.ndarray) -> np.ndarray:
    d = np.load(lay.p("tok", f"t{t:05d}.docs.npy"))
    if len(d):
        d["group"] = group_map[d["group"]]
    return d


# ------------------------------------------------------------------ phase 2: plan

_NBINS = 1 << 16


def _plan(cfg: ExportConfig, lay: Layout, markers: list[dict]) -> dict:
    groups = sorted({g for m in markers for g in m["groups"]})
    gidx = {g: i for i, g in enumerate(groups)}
    maps = [np.array([gidx[g] for g in m["groups"]], np.int32) for m in markers]
    G = len(groups)
    nat = np.zeros((2, G), np.int64)  # tokens incl. one EOS per document, per split and group
    ndocs = np.zeros((2, G), np.int64)
    for t in range(len(markers)):
        d = _load_docs(lay, t, maps[t])
        for s in (0, 1):
            sel = d[d["val"] == s]
            nat[s] += np.bincount(sel["group"], weights=sel["ntok"] + 1, minlength=G).astype(np.int64)
            ndocs[s] += np.bincount(sel["group"], minlength=G)
    full = np.ones(G, np.int64)
    thr_u = [None] * G  # partial epoch: training docs with partial key <= thr_u[g] get one more copy
    target = nat[0].astype(np.float64)
    if cfg.weights is not None:
        missing = [g for g in cfg.weights if g not in gidx]
        if missing:
            raise ExportError(
                f"mix weights name groups absent from the data ({cfg.group_by}): {missing}; present: {groups}"
            )
        w = np.array([cfg.weights.get(g, 0.0) for g in groups])
        w = w / w.sum()
        empty = [g for g, wi, n in zip(groups, w, nat[0]) if wi > 0 and n == 0]
        if empty:
            raise ExportError(f"groups with weight > 0 have no training documents: {empty}")
        total = float(cfg.tokens) if cfg.tokens else float(nat[0].sum())
        target = np.floor(w * total)
        full = (target // np.maximum(nat[0], 1)).astype(np.int64)
        rem = target - full * nat[0]
        need = [i for i in range(G) if rem[i] > 0]
        if need:
            thr_u = _partial_thresholds(lay, markers, maps, need, rem, G)
    return {
        "groups": groups,
        "natural_tokens": nat[0].tolist(),
        "val_tokens": nat[1].tolist(),
        "train_docs": ndocs[0].tolist(),
        "val_docs": ndocs[1].tolist(),
        "target_tokens": target.tolist(),
        "full_epochs": full.tolist(),
        "partial_threshold": [None if u is None else str(u) for u in thr_u],
    }


def _partial_thresholds(lay, markers, maps, need, rem, G) -> list:
    """Per group, the partial-key value up to which documents (in partial-key order) are taken so
    that their tokens come closest to ``rem``: a histogram pass, then the boundary bin exactly."""
    hist = np.zeros((G, _NBINS), np.int64)
    for t in range(len(markers)):
        d = _load_docs(lay, t, maps[t])
        d = d[d["val"] == 0]
        b = (_partial_key(d["key"]) >> np.uint64(48)).astype(np.int64)
        np.add.at(hist, (d["group"], b), d["ntok"] + 1)
    cum = np.cumsum(hist, axis=1)
    bins = {g: int(np.searchsorted(cum[g], rem[g])) for g in need}  # first bin where cum >= rem
    base = {g: (int(cum[g][bins[g] - 1]) if bins[g] > 0 else 0) for g in need}
    cand = {g: [] for g in need}
    for t in range(len(markers)):
        d = _load_docs(lay, t, maps[t])
        d = d[d["val"] == 0]
        pk = _partial_key(d["key"])
        b = (pk >> np.uint64(48)).astype(np.int64)
        for g in need:
            sel = (d["group"] == g) & (b == bins[g])
            cand[g].append(np.stack([pk[sel], d["ntok"][sel].astype(np.uint64) + np.uint64(1)], axis=1))
    out = [None] * G
    for g in need:
        c = np.concatenate(cand[g]) if cand[g] else np.zeros((0, 2), np.uint64)
        c = c[np.argsort(c[:, 0], kind="stable")]
        totals = base[g] + np.concatenate([[0], np.cumsum(c[:, 1].astype(np.int64))])
        k = int(np.argmin(np.abs(totals - rem[g])))  # docs of the boundary bin to take (ties: fewer)
        if k > 0:
            out[g] = int(c[k - 1, 0])
        elif bins[g] > 0:
            out[g] = (bins[g] << 48) - 1  # every document of the earlier bins
    return out


# ------------------------------------------------------------------ phase 3: scatter


def _scatter_task(cfg: ExportConfig, lay: Layout, t: int, plan: dict, group_map: np.ndarray) -> dict:
    d = _load_docs(lay, t, group_map)
    bits = plan["bucket_bits"]
    info = {"task": t}
    for s, split in enumerate(SPLITS):
        sd = d[d["val"] == s]
        if split == "train":
            copies = np.asarray(plan["full_epochs"], np.int64)[sd["group"]]
            thr = plan["partial_threshold"]
            if any(x is not None for x in thr):
                th = np.array([np.uint64(int(x)) if x is not None else np.uint64(0) for x in thr], np.uint64)
                has = np.array([x is not None for x in thr])
                pk = _partial_key(sd["key"])
                copies = copies + (has[sd["group"]] & (pk <= th[sd["group"]]))
        else:
            copies = np.ones(len(sd), np.int64)
        rep = np.repeat(np.arange(len(sd)), copies)
        first = np.repeat(np.cumsum(copies) - copies, copies)
        copy = np.arange(len(rep)) - first
        refs = np.zeros(len(rep), _REF)
        refs["skey"] = _copy_keys(sd["key"][rep], copy)
        refs["start"] = sd["start"][rep]
        refs["ntok"] = sd["ntok"][rep]
        refs["group"] = sd["group"][rep]
        refs = refs[np.argsort(refs["skey"], kind="stable")]
        bucket = (refs["skey"] >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(len(refs), np.int64)
        offs = np.searchsorted(bucket, np.arange((1 << bits) + 1), side="left").astype(np.int64)
        _save_npy(lay.p("refs", f"{split}-t{t:05d}.npy"), refs)
        _save_npy(lay.p("refs", f"{split}-t{t:05d}.offs.npy"), offs)
        G = len(plan["groups"])
        info[split] = {
            "tokens": np.bincount(refs["group"], weights=refs["ntok"], minlength=G).astype(np.int64).tolist(),
            "docs": np.bincount(refs["group"], minlength=G).tolist(),
        }
    return lay.commit("scatter", f"t{t:05d}", info)


# ------------------------------------------------------------------ phase 4: gather

_GATHER_TOKENS = 1 << 20


def _gather_bucket(cfg: ExportConfig, lay: Layout, split: str, b: int, n_tasks: int, eos: int) -> dict:
    parts, tids = [], []
    for t in range(n_tasks):
        offs = np.load(lay.p("refs", f"{split}-t{t:05d}.offs.npy"))
        lo, hi = int(offs[b]), int(offs[b + 1])
        if hi > lo:
            parts.append(np.load(lay.p("refs", f"{split}-t{t:05d}.npy"), mmap_mode="r")[lo:hi])
            tids.append(np.full(hi - lo, t, np.int32))
    refs = np.concatenate(parts) if parts else np.zeros(0, _REF)
    tid = np.concatenate(tids) if tids else np.zeros(0, np.int32)
    # sorted by key; ties (equal ids) by task and position in the task: input-defined
    order = np.lexsort((refs["start"], tid, refs["skey"]))
    refs, tid = refs[order], tid[order]
    sep = 0 if cfg.keep_boundaries else 1
    lens = refs["ntok"] + sep
    dst = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    dtype = np.dtype(cfg.dtype)
    out = np.full(int(dst[-1]), eos, dtype)
    by_task = np.argsort(tid, kind="stable")
    tasks, firsts = np.unique(tid[by_task], return_index=True)
    for t, sel_all in zip(tasks, np.split(by_task, firsts[1:])):
        src = np.memmap(lay.p("tok", f"t{t:05d}.bin"), dtype=dtype, mode="r")
        # in chunks of about _GATHER_TOKENS tokens: the index arrays stay small
        csum = np.cumsum(refs["ntok"][sel_all])
        cuts = np.searchsorted(csum, np.arange(_GATHER_TOKENS, int(csum[-1]) if len(csum) else 0, _GATHER_TOKENS))
        for sel in np.split(sel_all, np.unique(cuts)):
            n = refs["ntok"][sel]
            tot = int(n.sum())
            if not tot:
                continue
            # every token of the selected documents: segment starts + ranks within segments
            within = np.arange(tot) - np.repeat(np.cumsum(n) - n, n)
            out[np.repeat(dst[sel], n) + within] = src[np.repeat(refs["start"][sel], n) + within]
        del src
    _save_npy(lay.p("pieces", f"{split}-b{b:05d}.npy"), out)
    if cfg.keep_boundaries:
        _save_npy(lay.p("pieces", f"{split}-b{b:05d}.lens.npy"), refs["ntok"].astype(np.int64))
    return lay.commit("gather", f"{split}-b{b:05d}", {"tokens": int(len(out)), "docs": int(len(refs))})


# ------------------------------------------------------------------ phase 5: shards


class _Stream:
    """Read token ranges of a split's stream (the pieces in bucket order) without loading it."""

    def __init__(self, lay: Layout, split: str, sizes: list[int]):
        self.lay, self.split = lay, split
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def read(self, a: int, b: int) -> np.ndarray:
        parts = []
        i = int(np.searchsorted(self.bounds, a, side="right")) - 1
        while a < b:
            lo, hi = self.bounds[i], self.bounds[i + 1]
            if hi > a:
                arr = np.load(self.lay.p("pieces", f"{self.split}-b{i:05d}.npy"), mmap_mode="r")
                parts.append(np.asarray(arr[a - lo : min(b, hi) - lo]))
                a = min(b, hi)
            i += 1
        return np.concatenate(parts) if parts else np.zeros(0)


def shard_plan(cfg: ExportConfig, n_tokens: int, doc_offsets: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Token ranges of the shards of one split's stream (cut at document starts when
    ``doc_offsets`` is given, so that no document straddles two shards)."""
    if cfg.format == "mds":
        row = cfg.seq_len * np.dtype(cfg.dtype).itemsize
        cfg_len = len(json.dumps(_mds_config(cfg), sort_keys=True).encode())
        per = max(1, (cfg.mds_size_limit - 8 - cfg_len) // (row + 4))
        step = per * cfg.seq_len
    else:
        # bin shards are streamed to disk; parquet shards are built in memory, so smaller
        size = (1 << 27) if cfg.format == "bin" else (1 << 24)
        step = cfg.shard_tokens or max(cfg.seq_len, (size // cfg.seq_len) * cfg.seq_len)
    if doc_offsets is None:
        return [(a, min(a + step, n_tokens)) for a in range(0, n_tokens, step)] or [(0, 0)]
    cuts = np.unique(
        doc_offsets[np.minimum(np.searchsorted(doc_offsets, np.arange(0, n_tokens, step)), len(doc_offsets) - 1)]
    )
    cuts = np.append(cuts[cuts < n_tokens], n_tokens)
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])] or [(0, 0)]


def _mds_config(cfg: ExportConfig) -> dict:
    return {
        "column_encodings": [f"ndarray:{cfg.dtype}:{cfg.seq_len}"],
        "column_names": ["tokens"],
        "column_sizes": [cfg.seq_len * np.dtype(cfg.dtype).itemsize],
        "compression": None,
        "format": "mds",
        "hashes": [],
        "size_limit": cfg.mds_size_limit,
        "version": 2,
    }


def shard_name(cfg: ExportConfig, k: int) -> str:
    return {"bin": f"shard-{k:05d}.bin", "parquet": f"shard-{k:05d}.parquet", "mds": f"shard.{k:05d}.mds"}[cfg.format]


def _write_shard(
    cfg: ExportConfig, lay: Layout, split: str, k: int, a: int, b: int, sizes: list[int], doc_lens: np.ndarray | None
) -> dict:
    stream = _Stream(lay, split, sizes)
    path = os.path.join(lay.out, split, shard_name(cfg, k))
    L = cfg.seq_len
    info = {"file": f"{split}/{shard_name(cfg, k)}", "tokens": int(b - a), "start": int(a)}
    if cfg.format == "bin":
        _atomic_save(path, lambda tmp: _copy_range(stream, a, b, cfg.dtype, tmp))
    elif cfg.format == "parquet":
        toks = stream.read(a, b).astype(np.dtype(cfg.dtype), copy=False)
        if cfg.keep_boundaries:  # one document per row: lengths of the docs that start in [a, b)
            offs = np.concatenate([[0], np.cumsum(doc_lens)])
            lo, hi = int(np.searchsorted(offs, a)), int(np.searchsorted(offs, b))
            bounds = offs[lo : hi + 1] - a
        else:
            bounds = np.concatenate([np.arange(0, len(toks), L), [len(toks)]])
        vals = pa.array(toks.astype(np.int32) if cfg.dtype == "uint32" else toks)
        col = pa.ListArray.from_arrays(pa.array(bounds.astype(np.int32)), vals)
        info["rows"] = len(col)
        _atomic_save(path, lambda tmp: pq.write_table(pa.table({"input_ids": col}), tmp, compression="zstd"))
    else:  # MDS, byte for byte what streaming.MDSWriter(columns={"tokens": "ndarray:DTYPE:L"}) writes
        n = (b - a) // L
        item = np.dtype(cfg.dtype).itemsize
        conf = json.dumps(_mds_config(cfg), sort_keys=True).encode()
        offs = (np.arange(n + 1, dtype=np.int64) * L * item + 4 + 4 * (n + 1) + len(conf)).astype(np.uint32)

        def w(tmp):
            with open(tmp, "wb") as fh:
                fh.write(np.uint32(n).tobytes())
                fh.write(offs.tobytes())
                fh.write(conf)
            _copy_range(stream, a, a + n * L, cfg.dtype, tmp, append=True)

        _atomic_save(path, w)
        info["samples"] = n
        info["tokens"] = n * L
        info["dropped_tail_tokens"] = int(b - a - n * L)
    info["bytes"] = os.path.getsize(path)
    info["sha256"] = _sha256(path)
    return lay.commit("shards", f"{split}-{k:05d}", info)


def _copy_range(stream: _Stream, a: int, b: int, dtype: str, path: str, append: bool = False) -> None:
    """Stream tokens [a, b) into a file in bounded chunks."""
    with open(path, "ab" if append else "wb") as fh:
        for lo in range(a, b, _GATHER_TOKENS):
            stream.read(lo, min(b, lo + _GATHER_TOKENS)).astype(np.dtype(dtype), copy=False).tofile(fh)
        fh.flush()
        os.fsync(fh.fileno())


def _write_mds_index(cfg: ExportConfig, out: str, split: str, shards: list[dict]) -> None:
    """``index.json`` as ``streaming.MDSWriter`` writes it (``json.dump(..., sort_keys=True)``)."""
    entries = [
        {
            **_mds_config(cfg),
            "samples": s["samples"],
            "zip_data": None,
            "raw_data": {"basename": os.path.basename(s["file"]), "bytes": s["bytes"], "hashes": {}},
        }
        for s in shards
    ]

    def w(tmp):
        with open(tmp, "w") as fh:
            json.dump({"shards": entries, "version": 2}, fh, sort_keys=True)

    _atomic_save(os.path.join(out, split, "index.json"), w)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------ running tasks

_STATE: dict = {}


def _init(payload) -> None:
    _STATE["args"] = payload


def _call(fn_name: str, *args):
    cfg, lay = _STATE["args"]
    return globals()[fn_name](cfg, lay, *args)


def _run_all(cfg, lay, fn_name: str, jobs: list[tuple], workers: int, progress, label: str, on_done=None) -> list:
    """Run ``fn(cfg, lay, *job)`` for every job (inline for one worker, else a spawn pool)."""
    results = [None] * len(jobs)
    bar = progress.add_task(label, total=len(jobs), rate="") if progress is not None else None

    def done(i, r):
        results[i] = r
        if progress is not None:
            progress.advance(bar)
        if on_done:
            on_done(r, bar)

    if workers <= 1 or len(jobs) <= 1:
        _STATE["args"] = (cfg, lay)
        for i, j in enumerate(jobs):
            done(i, _call(fn_name, *j))
        return results
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_init, initargs=((cfg, lay),)
    ) as pool:
        with main_not_reimported():  # workers start at the first submits
            pending = {pool.submit(_call, fn_name, *j): i for i, j in enumerate(jobs)}
        try:
            while pending:
                fin, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in fin:
                    done(pending.pop(f), f.result())
        except BaseException:
            for f in pending:
                f.cancel()
            raise
    return results


def _phase(
    cfg, lay, phase: str, names: list[str], fn_name: str, jobs: list[tuple], workers, progress, label, on_done=None
) -> list[dict]:
    """Jobs whose completion marker exists are skipped (resume); the others run."""
    out = [lay.done(phase, n) for n in names]
    todo = [i for i, m in enumerate(out) if m is None]
    if todo:
        res = _run_all(cfg, lay, fn_name, [jobs[i] for i in todo], workers, progress, label, on_done)
        for i, r in zip(todo, res):
            out[i] = r
    return out


def _clean_tmp(lay: Layout) -> None:
    for f in glob.glob(os.path.join(lay.out, "**", "*.tmp-*"), recursive=True):
        os.remove(f)


def export(
    source,
    out: str,
    *,
    tokenizer="gpt2",
    seq_len: int = 2048,
    mix=None,
    tokens: int | float | None = None,
    format: str = "bin",
    val_fraction: float = 0.005,
    seed: int = 0,
    workers: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    keep_boundaries: bool = False,
    text_column: str = "text",
    id_column: str = "id",
    task_rows: int = 50_000,
    bucket_tokens: int = 16 << 20,
    shard_tokens: int | None = None,
    mds_size_limit: int = 1 << 26,
    keep_work: bool = False,
    progress: bool = False,
) -> dict:
    """Tokenize, mix, shuffle, pack and shard ``source`` into ``out``; returns the manifest.

    See :mod:`winnow.deliver.export` for the formats, the mix schema and the manifest.

    >>> import os, tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> d = tempfile.mkdtemp(); os.makedirs(f"{d}/run/data")
    >>> pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["one fish", "two fish", "red fish"],
    ...                          "source": ["x", "x", "y"]}), f"{d}/run/data/t0.parquet")
    >>> man = export(f"{d}/run", f"{d}/out", seq_len=4, val_fraction=0.0, mix={"weights": {"x": 1, "y": 1}})
    >>> man["tokens"]["train"], man["sources"]["x"]["epochs"], man["sources"]["y"]["epochs"]
    (6, 0.5, 1.0)

    Three documents of 2 tokens + EOS; equal weights give each group floor(9 / 2) = 4 tokens, and
    the closest whole-document counts are 3 and 3 (one ``x`` document of two, ``y`` once).
    """
    if format not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}, got {format!r}")
    if seq_len < 1:
        raise ExportError(f"seq_len must be >= 1, got {seq_len}")
    if not 0 <= val_fraction < 1:
        raise ExportError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if format == "mds" and keep_boundaries:
        raise ExportError("format mds writes packed sequences; keep_boundaries works with bin and parquet")
    if not isinstance(tokenizer, str):
        raise ExportError("export takes a tokenizer name or a tokenizer.json path (workers load it by name)")
    weights, group_by = load_mix(mix)
    if tokens and weights is None:
        raise ExportError("tokens= needs a mix (weights per group); without one every document appears once")
    files = resolve_inputs(source)
    tok = load_tokenizer(tokenizer)
    tok_spec = tokenizer
    dtype = "uint16" if tok.vocab_size <= 65536 else "uint32"
    cfg = ExportConfig(
        files=files,
        tokenizer=tok_spec,
        seq_len=int(seq_len),
        format=format,
        seed=int(seed),
        val_fraction=float(val_fraction),
        weights=weights,
        group_by=group_by,
        tokens=int(float(tokens)) if tokens else None,
        keep_boundaries=keep_boundaries,
        text_column=text_column,
        id_column=id_column,
        task_rows=int(task_rows),
        bucket_tokens=int(bucket_tokens),
        shard_tokens=shard_tokens,
        mds_size_limit=int(mds_size_limit),
        tokenizer_sha256=tok.identity,
        dtype=dtype,
    )
    lay = Layout(out)
    _prepare(lay, cfg, resume, overwrite)
    t0 = time.perf_counter()
    prog = _progress() if progress else None
    if prog is not None:
        prog.start()
    try:
        man = _run(cfg, lay, tok, workers, prog)
    finally:
        if prog is not None:
            prog.stop()
    man["seconds"] = round(time.perf_counter() - t0, 3)
    if format == "mds":
        for split in SPLITS:
            _write_mds_index(cfg, out, split, man["splits"][split]["shards"])
    write_json_atomic(os.path.join(out, "manifest.json"), man)
    if not keep_work:
        shutil.rmtree(lay.work, ignore_errors=True)
    return man


def _prepare(lay: Layout, cfg: ExportConfig, resume: bool, overwrite: bool) -> None:
    out = lay.out
    if os.path.exists(out) and os.listdir(out):
        if overwrite:
            shutil.rmtree(out)
        elif resume and os.path.exists(os.path.join(lay.work, "config.json")):
            with open(os.path.join(lay.work, "config.json"), encoding="utf-8") as fh:
                old = json.load(fh)
            if old.get("hash") != cfg.hash():
                raise ExportExistsError(f"{out} was started with other options; --overwrite to start again")
            _clean_tmp(lay)
            return
        elif os.path.exists(os.path.join(out, "manifest.json")):
            raise ExportExistsError(f"{out} already holds an export; --overwrite to replace it")
        elif os.path.exists(lay.work):
            raise ExportExistsError(f"{out} holds an unfinished export; --resume to finish it or --overwrite")
        else:
            raise ExportExistsError(f"{out} is not empty; choose another folder or --overwrite")
    os.makedirs(lay.work, exist_ok=True)
    write_json_atomic(os.path.join(lay.work, "config.json"), {"hash": cfg.hash(), "config": asdict(cfg)})


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        transient=False,
    )


def _run(cfg: ExportConfig, lay: Layout, tok, workers: int, prog) -> dict:
    tasks = _tasks(cfg.files, cfg.task_rows)
    if not tasks:
        raise ExportError("the input has no rows")
    t_start = time.perf_counter()
    tok_count = [0]

    def on_tok(r, bar):
        tok_count[0] += r["tokens"]
        rate = tok_count[0] / max(time.perf_counter() - t_start, 1e-9)
        prog.update(bar, rate=f"{tok_count[0] / 1e6:,.1f}M tokens  {rate / 1e6:,.2f}M tokens/s")

    markers = _phase(
        cfg,
        lay,
        "tokenize",
        [f"t{t:05d}" for t in range(len(tasks))],
        "_tokenize_task",
        [(t, task) for t, task in enumerate(tasks)],
        workers,
        prog,
        "tokenize",
        on_tok if prog is not None else None,
    )
    tok_seconds = time.perf_counter() - t_start
    plan = lay.done("plan", "plan")
    if plan is None:
        plan = _plan(cfg, lay, markers)
        stream = sum(plan["target_tokens"]) if cfg.weights else sum(plan["natural_tokens"])
        n_buckets = max(1, math.ceil(stream / cfg.bucket_tokens))
        plan["bucket_bits"] = int(math.ceil(math.log2(n_buckets))) if n_buckets > 1 else 0
        lay.commit("plan", "plan", plan)
    groups = plan["groups"]
    gidx = {g: i for i, g in enumerate(groups)}
    maps = [np.array([gidx[g] for g in m["groups"]], np.int32) for m in markers]
    scat = _phase(
        cfg,
        lay,
        "scatter",
        [f"t{t:05d}" for t in range(len(tasks))],
        "_scatter_task",
        [(t, plan, maps[t]) for t in range(len(tasks))],
        workers,
        prog,
        "shuffle",
    )
    nb = 1 << plan["bucket_bits"]
    names, jobs = [], []
    for split in SPLITS:
        for b in range(nb):
            names.append(f"{split}-b{b:05d}")
            jobs.append((split, b, len(tasks), tok.eos_id))
    gath = _phase(cfg, lay, "gather", names, "_gather_bucket", jobs, workers, prog, "pack")
    man_splits = {}
    names, jobs = [], []
    for si, split in enumerate(SPLITS):
        sizes = [g["tokens"] for g in gath[si * nb : (si + 1) * nb]]
        n_tok = int(sum(sizes))
        lens = offs = None
        if cfg.keep_boundaries:
            lens = np.concatenate([np.load(lay.p("pieces", f"{split}-b{b:05d}.lens.npy")) for b in range(nb)])
            os.makedirs(os.path.join(lay.out, split), exist_ok=True)
            offs = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
            _save_npy(os.path.join(lay.out, split, "doc_offsets.npy"), offs)
        man_splits[split] = {"tokens": n_tok, "docs": int(sum(g["docs"] for g in gath[si * nb : (si + 1) * nb]))}
        for k, (a, b) in enumerate(shard_plan(cfg, n_tok, offs)):
            names.append(f"{split}-{k:05d}")
            jobs.append((split, k, a, b, sizes, lens))
    shards = _phase(cfg, lay, "shards", names, "_write_shard", jobs, workers, prog, "shards")
    return _manifest(cfg, tok, plan, markers, scat, shards, man_splits, tok_seconds)


def _manifest(cfg, tok, plan, markers, scat, shards, man_splits, tok_seconds) -> dict:
    groups = plan["groups"]
    G = len(groups)
    per = {}
    for split in SPLITS:
        toks = np.sum([s[split]["tokens"] for s in scat], axis=0).astype(np.int64) if scat else np.zeros(G, np.int64)
        docs = np.sum([s[split]["docs"] for s in scat], axis=0).astype(np.int64) if scat else np.zeros(G, np.int64)
        per[split] = (toks, docs)
    sources = {}
    for i, g in enumerate(groups):
        nat = plan["natural_tokens"][i]
        out_tok = int(per["train"][0][i] + per["train"][1][i])
        sources[g] = {
            "documents": int(plan["train_docs"][i] + plan["val_docs"][i]),
            "train_documents_in": int(plan["train_docs"][i]),
            "train_documents_out": int(per["train"][1][i]),
            "val_documents": int(per["val"][1][i]),
            "train_tokens_in": int(nat),
            "train_tokens": out_tok,
            "val_tokens": int(per["val"][0][i] + per["val"][1][i]),
            "target_tokens": int(plan["target_tokens"][i]),
            "epochs": round(out_tok / nat, 6) if nat else 0.0,
            "full_epochs": int(plan["full_epochs"][i]),
        }
    for split in SPLITS:
        man_splits[split]["shards"] = [s for s in shards if s["file"].startswith(split + "/")]
    return {
        "format": cfg.format,
        "version": WORK_VERSION,
        "seq_len": cfg.seq_len,
        "dtype": cfg.dtype,
        "eos_id": tok.eos_id,
        "keep_boundaries": cfg.keep_boundaries,
        "seed": cfg.seed,
        "val_fraction": cfg.val_fraction,
        "tokenizer": tok.describe(),
        "group_by": cfg.group_by,
        "mix": None if cfg.weights is None else {"weights": cfg.weights, "tokens": cfg.tokens},
        "inputs": {
            "files": len(cfg.files),
            "rows": int(sum(m["rows"] for m in markers)),
            "empty_documents": int(sum(m["empty"] for m in markers)),
            "tokens": int(sum(m["tokens"] for m in markers)),
        },
        "sources": sources,
        "splits": man_splits,
        "tokens": {
            "train": man_splits["train"]["tokens"],
            "val": man_splits["val"]["tokens"],
            "total": man_splits["train"]["tokens"] + man_splits["val"]["tokens"],
        },
        "tokenize_seconds": round(tok_seconds, 3),
    }
