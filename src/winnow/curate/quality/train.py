"""Training recipes: DCLM in miniature and influence-distilled scorers, from files on disk.

* :func:`train_dclm` — positives = a high-quality reference set, negatives = random documents
  sampled from the pool; reports held-out AUC; the pool sample calibrates ``top_fraction``.
* :func:`train_distilled` — any Parquet of ``(id, score)`` (e.g. attribution scores written by
  ``winnow attribute``) joined by id to the texts of a dataset; the fast model learns to predict
  the score (regression, or the top fraction as positives with ``binarize``), reports held-out
  Spearman correlation, then scores the whole pool at classifier speed.

Example:
    >>> m, report = train_dclm("ref/*.jsonl", "pool/*.jsonl.gz", n_negatives=50_000)  # doctest: +SKIP
    >>> report["heldout_auc"]                                                         # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def read_texts(
    path, *, text_column: str = "text", id_column: str = "id", max_docs: int | None = None, seed: int = 0
) -> pa.Table:
    """Read ``id`` and ``text`` of every record at ``path`` (file, folder, glob; any winnow input
    format); with ``max_docs``, a uniform random sample of that many (seeded)."""
    from winnow.core.io.readers import InputSpec, plan_tasks, read_task

    spec = InputSpec(path=path, text_column=text_column, id_column=id_column)
    parts = []
    for task in plan_tasks(spec):
        for chunk in read_task(spec, task):
            if chunk.table.num_rows:
                parts.append(chunk.table.select(["id", "text"]))
    if not parts:
        raise ValueError(f"no readable records at {path!r}")
    t = pa.concat_tables(parts)
    if max_docs is not None and t.num_rows > max_docs:
        rng = np.random.default_rng(seed)
        t = t.take(np.sort(rng.choice(t.num_rows, size=max_docs, replace=False)))
    return t


def _split(n: int, test_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 <= test_frac < 1:
        raise ValueError(f"test_frac must be in [0, 1), got {test_frac}")
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * test_frac))
    return np.sort(perm[k:]), np.sort(perm[:k])


def train_dclm(
    positives,
    negatives,
    *,
    n_negatives: int | None = None,
    test_frac: float = 0.2,
    seed: int = 0,
    text_column: str = "text",
    **model_kw,
):
    """Train a quality classifier: reference texts vs random pool texts; returns (model, report).

    ``positives``/``negatives``: a path/glob (any winnow input) or Arrow tables/arrays/lists of text.
    ``model_kw``: :meth:`QualityModel.train_classifier` options (n_bits, word_ngrams, char_ngrams, C...).
    The model is fitted on the training split; ``report["heldout_auc"]`` is measured on the rest,
    and the held-out negatives (an unbiased pool sample) calibrate ``top_fraction``.
    """
    from winnow.curate.quality.model import QualityModel, roc_auc

    pos = _texts(positives, text_column, None, seed)
    neg = _texts(negatives, text_column, n_negatives, seed + 1)
    ptr, pte = _split(len(pos), test_frac, seed)
    ntr, nte = _split(len(neg), test_frac, seed + 2)
    m = QualityModel.train_classifier(pos.take(ptr), neg.take(ntr), seed=seed, **model_kw)
    report = {
        "n_positives": len(pos),
        "n_negatives": len(neg),
        "n_train": len(ptr) + len(ntr),
        "n_test": len(pte) + len(nte),
    }
    if len(pte) and len(nte):
        s = m.score(pa.chunked_array([pos.take(pte), neg.take(nte)]))
        report["heldout_auc"] = round(roc_auc(s, np.r_[np.ones(len(pte)), np.zeros(len(nte))]), 6)
    if len(nte) >= 50:  # training negatives score lower than unseen pool documents: calibrate on held-out ones
        m.calibrate(neg.take(nte), name="held-out negatives")
    m.meta.update(report)
    return m, report


def train_distilled(
    scores,
    texts,
    *,
    id_column: str = "id",
    score_column: str = "score",
    text_column: str = "text",
    binarize: float | None = None,
    test_frac: float = 0.2,
    seed: int = 0,
    **model_kw,
):
    """Train the fast model to predict a per-example score column; returns (model, report).

    ``scores``: a Parquet path (or Arrow table) with ``id_column`` and ``score_column``;
    ``texts``: a dataset path (or table with ``id`` and ``text``). Rows are joined on id; ids
    without text (or text without score) are counted in the report and skipped.
    ``report["heldout_spearman"]`` is the rank correlation of predicted vs true scores on the
    held-out ids.
    """
    import pyarrow.parquet as pq
    from scipy.stats import spearmanr

    from winnow.curate.quality.model import QualityModel

    st = pq.read_table(scores) if isinstance(scores, str) else scores
    for c in (id_column, score_column):
        if c not in st.column_names:
            raise ValueError(f"scores: column {c!r} not found (columns: {st.column_names})")
    st = st.select([id_column, score_column]).rename_columns(["id", "__score"])
    st = st.set_column(0, "id", pc.cast(st.column("id"), pa.string()))
    st = st.set_column(1, "__score", pc.cast(st.column("__score"), pa.float64()))
    st = st.filter(pc.is_finite(st.column("__score")))
    tt = read_texts(texts, text_column=text_column) if isinstance(texts, str) else texts.select(["id", "text"])
    joined = tt.join(st, "id", join_type="inner").sort_by("id")
    if joined.num_rows < 4:
        raise ValueError(f"only {joined.num_rows} ids of the scores match texts; need at least 4")
    tr, te = _split(joined.num_rows, test_frac, seed)
    y = joined.column("__score").to_numpy()
    tx = joined.column("text")
    m = QualityModel.train_regressor(tx.take(tr), y[tr], binarize=binarize, seed=seed, **model_kw)
    report = {
        "n_scores": st.num_rows,
        "n_texts": tt.num_rows,
        "n_joined": joined.num_rows,
        "n_train": len(tr),
        "n_test": len(te),
        "binarize": binarize,
    }
    if len(te) >= 3:
        rho = spearmanr(m.score(tx.take(te)), y[te]).statistic
        report["heldout_spearman"] = round(float(rho), 6)
    if len(te) >= 50:
        m.calibrate(tx.take(te), name="held-out texts")
    m.meta.update(report)
    return m, report


def _texts(x, text_column: str, max_docs: int | None, seed: int) -> pa.Array:
    if isinstance(x, str):  # a path, folder or glob
        return read_texts(x, text_column=text_column, max_docs=max_docs, seed=seed).column("text").combine_chunks()
    if isinstance(x, pa.Table):
        col = x.column(text_column).combine_chunks()
    elif isinstance(x, pa.ChunkedArray):
        col = x.combine_chunks()
    elif isinstance(x, pa.Array):
        col = x
    else:
        col = pa.array(list(x), pa.string())
    if max_docs is not None and len(col) > max_docs:
        rng = np.random.default_rng(seed)
        col = col.take(np.sort(rng.choice(len(col), size=max_docs, replace=False)))
    return col
