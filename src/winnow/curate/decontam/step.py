"""``decontaminate`` pipeline step: drop (or annotate) documents that share word n-grams with
evaluation sets.

Example (YAML)::

    steps:
      - decontaminate: {eval_sets: [humaneval, evals/mmlu.jsonl], n: 13}
      - decontaminate: {eval_sets: [humaneval], annotate_only: true}   # keep, only mark

Columns (null/0 for clean documents):

* ``decontam_ngrams`` — matching n-gram windows in the document;
* ``decontam_set`` / ``decontam_item`` — eval set and item id with the most matching windows;
* ``decontam_items`` — every matched ``set/item``;
* ``decontam_spans`` — merged byte spans ``{start, end}`` of the overlapping text.

Reason: ``decontaminate:<eval set>`` (the manifest counts contamination per eval set);
:func:`contamination_summary` reports per eval set over a finished run.

    >>> import pyarrow as pa, json, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ev.jsonl")
    >>> _ = open(p, "w").write(json.dumps({"id": "q1", "text": "what is the capital city of france"}) + "\\n")
    >>> step = Decontaminate(eval_sets=[p], n=5)
    >>> t = step.annotate(pa.table({"text": ["Q: What is the capital city of France? A: Paris", "no"]}))
    >>> step.decide(t).to_pylist(), t["decontam_item"].to_pylist(), t["decontam_spans"][0].as_py()
    (['decontaminate:ev', None], ['q1', None], [{'start': 3, 'end': 37}])
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, PrivateAttr

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep
from winnow.core.records import set_columns

SPAN_TYPE = pa.struct([("start", pa.int64()), ("end", pa.int64())])
COLUMNS = ("decontam_ngrams", "decontam_set", "decontam_item", "decontam_items", "decontam_spans")


@register_step
class Decontaminate(MapStep):
    """Drop documents sharing word n-grams (default 13) with evaluation sets; annotate the spans."""

    name = "decontaminate"
    #: no declared rule: the reason names the eval set a document matched (``decide`` below)
    extra_stats = COLUMNS
    eval_sets: list[str | dict] = Field(
        ..., min_length=1, description="bundled names (humaneval) or JSONL/Parquet paths"
    )
    n: int = Field(13, ge=1, le=64)
    min_matches: int = Field(1, ge=1, description="matching windows needed to flag a document")
    text_column: str = "text"
    _index: object = PrivateAttr(default=None)

    def setup(self) -> None:
        if self._index is None:
            from winnow.curate.decontam.index import NgramIndex, load_eval_set

            self._index = NgramIndex.build([load_eval_set(s) for s in self.eval_sets], n=self.n)

    @property
    def index(self):
        self.setup()
        return self._index

    def thresholds(self) -> dict[str, tuple[float | None, float | None]]:
        return {"decontam_ngrams": (None, self.min_matches - 0.5)}

    def annotate(self, table: pa.Table) -> pa.Table:
        idx = self.index
        if self.text_column not in table.column_names:
            raise KeyError(f"decontaminate: text_column {self.text_column!r} not in {table.column_names}")
        nd = table.num_rows
        hits = idx.match(table.column(self.text_column))
        cols = annotate_hits(hits, nd, idx)
        return set_columns(table, [(name, cols[name]) for name in COLUMNS])

    def decide(self, table: pa.Table) -> pa.Array:
        flagged = pc.greater_equal(table.column("decontam_ngrams"), self.min_matches)
        reason = pc.binary_join_element_wise(pa.scalar("decontaminate"), table.column("decontam_set"), ":")
        return pc.if_else(flagged, reason, pa.scalar(None, pa.string()))


def annotate_hits(hits, n_docs: int, idx) -> dict[str, pa.Array]:
    """Turn per-window hits into the per-document columns (vectorised)."""
    d = hits.doc
    n_items = max(idx.n_items, 1)
    count = np.bincount(d, minlength=n_docs).astype(np.int32)
    pd_, it = hits.pair_doc, hits.pair_item.astype(np.int64)
    # distinct (doc, item) pairs with their window counts; best item per doc = most windows
    key = pd_ * n_items + it
    uk, uc = np.unique(key, return_counts=True)
    ud, ui = uk // n_items, uk % n_items
    order = np.lexsort((ui, -uc, ud))  # per doc: most windows first, then lowest item
    ud_o, ui_o = ud[order], ui[order]
    first = np.ones(len(ud_o), dtype=bool)
    first[1:] = ud_o[1:] != ud_o[:-1]
    best = np.full(n_docs, -1, dtype=np.int64)
    best[ud_o[first]] = ui_o[first]
    has = best >= 0
    sets = np.asarray(idx.sets, dtype=object)
    ids = np.asarray(idx.item_ids, dtype=object)
    set_col = np.full(n_docs, None, dtype=object)
    item_col = np.full(n_docs, None, dtype=object)
    set_col[has] = sets[idx.item_set[best[has]]]
    item_col[has] = ids[best[has]]
    # all matched items per doc (ud is sorted since uk is)
    labels = sets[idx.item_set[ui]] + "/" + ids[ui] if len(ui) else np.zeros(0, dtype=object)
    item_offsets = np.zeros(n_docs + 1, dtype=np.int32)
    np.cumsum(np.bincount(ud, minlength=n_docs), out=item_offsets[1:])
    items = pa.ListArray.from_arrays(pa.array(item_offsets), pa.array(labels, pa.string()))
    # merge overlapping/adjacent windows into spans (hits are in doc, start order)
    if len(d):
        span = int(max(hits.end.max(), 1)) + 1
        ks, ke = d * span + hits.start, d * span + hits.end
        run_end = np.maximum.accumulate(ke)
        new = np.ones(len(ks), dtype=bool)
        new[1:] = ks[1:] > run_end[:-1]
        grp = np.cumsum(new) - 1
        g_start = ks[new]
        g_end = np.zeros(int(grp[-1]) + 1, dtype=np.int64)
        np.maximum.at(g_end, grp, ke)
        g_doc = g_start // span
        sp = pa.StructArray.from_arrays(
            [pa.array(g_start - g_doc * span), pa.array(g_end - g_doc * span)], fields=list(SPAN_TYPE)
        )
        sp_off = np.zeros(n_docs + 1, dtype=np.int32)
        np.cumsum(np.bincount(g_doc, minlength=n_docs), out=sp_off[1:])
    else:
        sp = pa.array([], SPAN_TYPE)
        sp_off = np.zeros(n_docs + 1, dtype=np.int32)
    spans = pa.ListArray.from_arrays(pa.array(sp_off), sp)
    return {
        "decontam_ngrams": pa.array(count, pa.int32()),
        "decontam_set": pa.array(set_col, pa.string()),
        "decontam_item": pa.array(item_col, pa.string()),
        "decontam_items": items,
        "decontam_spans": spans,
    }


def contamination_summary(table: pa.Table, idx=None) -> dict:
    """Per eval set: contaminated documents, distinct eval items hit (and their fraction).

    ``table``: rows annotated by :class:`Decontaminate` (kept and rejected rows together).
    ``idx``: the step's index, to report each set's size and items matched as a fraction.
    """
    out: dict[str, dict] = {}
    if idx is not None:
        for si, s in enumerate(idx.sets):
            out[s] = {"items": int((idx.item_set == si).sum()), "documents": 0, "items_matched": 0}
    if table.num_rows and "decontam_set" in table.column_names:
        sets = table.column("decontam_set").to_pylist()
        for s in sets:
            if s is not None:
                out.setdefault(s, {"documents": 0, "items_matched": 0})["documents"] += 1
        flat = pc.list_flatten(table.column("decontam_items")).to_pylist()
        for s, n in _count_items(flat).items():
            out.setdefault(s, {"documents": 0, "items_matched": 0})["items_matched"] = n
    for v in out.values():
        if v.get("items"):
            v["items_matched_frac"] = round(v["items_matched"] / v["items"], 6)
    return out


def _count_items(labels: list[str]) -> dict[str, int]:
    per: dict[str, set] = {}
    for lab in labels:
        s, _, item = lab.partition("/")
        per.setdefault(s, set()).add(item)
    return {s: len(v) for s, v in per.items()}
