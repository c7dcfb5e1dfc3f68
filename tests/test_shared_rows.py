"""winnow.core.shared_rows: the steps of a stage share one token pass, and never a stale one."""

import contextlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from winnow.core.shared_rows import carry, derived, sharing


def _counter():
    calls = []

    def lengths(t):
        calls.append(t.num_rows)
        return pc.utf8_length(t.column("text"))

    return calls, lengths


def test_a_result_follows_the_kept_rows_and_is_computed_once():
    calls, lengths = _counter()
    t = pa.table({"text": ["a", "bb", "ccc", "dddd"], "x": [1, 2, 3, 4]})
    with sharing():
        assert derived(t, "text", "len", lambda: lengths(t)).to_pylist() == [1, 2, 3, 4]
        keep = pa.array([False, True, False, True])
        t2 = t.filter(keep)
        carry(t, t2, keep)
        assert derived(t2, "text", "len", lambda: lengths(t2)).to_pylist() == [2, 4]
        t3 = t2.append_column("y", pa.array([0, 0]))  # a step adds a column: the text is the same
        assert derived(t3, "text", "len", lambda: lengths(t3)).to_pylist() == [2, 4]
    assert calls == [4]


def test_a_rewritten_column_is_never_served_its_old_result():
    calls, lengths = _counter()
    t = pa.table({"text": ["a", "bb", "ccc"]})
    with sharing():
        derived(t, "text", "len", lambda: lengths(t))
        # a step rewrites the text (same number of rows, same values even) then drops a row
        rewritten = t.set_column(0, "text", pc.utf8_upper(t.column("text")))
        keep = pa.array([True, True, False])
        t2 = rewritten.filter(keep)
        carry(rewritten, t2, keep)
        assert derived(t2, "text", "len", lambda: lengths(t2)).to_pylist() == [1, 2]
        # rewritten without any row dropped (no carry): still a new computation
        t3 = t2.set_column(0, "text", pc.utf8_lower(t2.column("text")))
        assert derived(t3, "text", "len", lambda: lengths(t3)).to_pylist() == [1, 2]
    assert calls == [3, 2, 2]


def test_nothing_is_stored_outside_a_batch_and_misaligned_results_are_refused():
    calls, lengths = _counter()
    t = pa.table({"text": ["a", "bb"]})
    derived(t, "text", "len", lambda: lengths(t))
    derived(t, "text", "len", lambda: lengths(t))
    assert calls == [2, 2]
    with sharing():
        with pytest.raises(ValueError, match="1 values for 2 rows"):
            derived(t, "text", "bad", lambda: pa.array([1]))
    with sharing():  # a new batch starts empty
        derived(t, "text", "len", lambda: lengths(t))
    assert calls == [2, 2, 2]


_STOP = "the of and to in is that it was for on are as with his they at be this from have or by one had not".split()


def _docs(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    syll = ["ka", "ri", "mo", "ten", "sa", "lu", "ver", "do", "pen", "ga", "shi", "ro", "bel", "an"]
    vocab = _STOP * 8 + ["".join(rng.choice(syll, int(rng.integers(1, 4)))) for _ in range(400)]
    docs = []
    for k in range(n):
        lines = []
        for _ in range(int(rng.integers(1, 9))):
            sents = [" ".join(rng.choice(vocab, int(rng.integers(4, 12))).tolist()).capitalize() for _ in range(3)]
            end = rng.choice([".", "!", "", "", " (see below)", " {x}", "..."])  # C4 drops some lines
            lines.append(". ".join(sents[: int(rng.integers(1, 4))]) + end)
        if k % 7 == 0:
            lines = lines[:2] * 6  # repeated lines: Gopher repetition drops it
        if k % 11 == 0:
            lines.append("Please enable javascript to view this page.")
        docs.append({"id": f"d{k}", "text": "\n".join(lines)})
    return docs


def _run(tmp_path, name, monkeypatch, share: bool):
    import winnow.core.pipeline.runner as R
    import winnow.core.text.spacy_words as T
    from winnow import Pipeline

    calls = []
    words = T.words

    def counted(text):
        calls.append(len(text))
        return words(text)

    monkeypatch.setattr(T, "words", counted)
    if not share:
        monkeypatch.setattr(R, "sharing", contextlib.nullcontext)
    steps = [
        {"gopher_repetition": {}},
        {"c4": {"min_num_sentences": 2}},  # rewrites the text (drops lines) of the documents it keeps
        {"gopher_quality": {"min_doc_words": 30}},
        {"fineweb_quality": {}},
    ]
    res = Pipeline(steps).run(str(tmp_path / "in" / "*.parquet"), str(tmp_path / name), workers=1)
    monkeypatch.undo()
    kept = res.kept().sort_by("id")
    rej = res.rejects().sort_by("id")
    return kept, rej, calls


def test_a_stage_tokenises_once_and_decides_exactly_as_without_sharing(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    pq.write_table(pa.Table.from_pylist(_docs(300)), tmp_path / "in" / "a.parquet")
    kept, rej, shared_calls = _run(tmp_path, "shared", monkeypatch, share=True)
    kept0, rej0, plain_calls = _run(tmp_path, "plain", monkeypatch, share=False)
    # the fixture exercises every path: drops by each step, text rewritten by C4, survivors
    reasons = set(rej0.column("reason").to_pylist())
    assert {r.split(":")[0] for r in reasons} >= {"gopher_repetition", "c4", "gopher_quality"}
    assert kept0.num_rows > 20
    assert kept.equals(kept0)  # every kept row, its rewritten text and every statistic column
    assert rej.equals(rej0)
    # without sharing: Gopher repetition, Gopher quality and FineWeb each tokenise (C4 tokenises
    # lines). With it, FineWeb reuses Gopher quality's words, C4's rewrite forces a new pass
    assert sum(plain_calls) > sum(shared_calls)
    assert len(plain_calls) - len(shared_calls) == 1
