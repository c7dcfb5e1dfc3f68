"""Training-ready output: tokenize, mix, shuffle, pack and shard a winnow run (``winnow.export``).

``export(source, out, tokenizer="gpt2", seq_len=2048, mix=None, tokens=None, format="bin", ...)``
reads a run folder's ``data/*.parquet`` (or Parquet files / globs; columns ``text``, ``id``,
``source``), and writes to ``out``:

- ``train/`` and ``val/``: the documents of each split, globally shuffled (seeded), each followed
  by the tokenizer's EOS, as one token stream cut into shards:
  ``bin`` — flat ``uint16`` files (``uint32`` when the vocabulary exceeds 65,536), read with
  ``np.memmap(path, dtype, mode="r")`` nanoGPT-style or through :class:`TokenDataset`;
  ``parquet`` — an ``input_ids`` list column of ``seq_len`` tokens per row (HF ``datasets``:
  ``Dataset.from_parquet(files)``); ``mds`` — MosaicML ``streaming`` shards + ``index.json``
  (column ``tokens``, encoding ``ndarray:uint16:SEQ_LEN``), byte-identical to ``MDSWriter``'s.
  ``keep_boundaries=True`` writes no EOS; ``bin`` gets ``doc_offsets.npy`` per split (document
  ``i`` is ``stream[offsets[i]:offsets[i+1]]``) and ``parquet`` one document per row.
- ``manifest.json``: per source (group) documents, tokens in, training tokens out, target, epochs
  (= out / in), validation tokens; per shard file, tokens, bytes and sha256; totals; the tokenizer
  (name, vocab size, EOS id, ``vocab_sha256``); seed, seq_len, dtype, format, the mix.

Validation split: a document is held out when a hash of ``(seed, id)`` falls below
``val_fraction`` (by document; validation is never mixed or repeated). Token counts per
document include its EOS.

Mix schema (the JSON ``winnow mix`` writes; also accepted as a dict)::

    {"weights": {"python_docs": 0.5, "stdlib_code": 0.3, "package_readme": 0.2},
     "group_by": "source"}

``weights``: group → weight >= 0 (normalised to sum 1; groups of the data not listed get 0, a
listed group absent from the data is an error). ``group_by``: the column that names a document's
group (default ``source``). Other keys are ignored. Each group's training target is
``floor(weight * T)`` tokens, ``T`` = ``tokens`` (``--tokens``) or, by default, the training
tokens of the whole corpus. A group with ``N`` tokens is repeated ``floor(target / N)`` whole
epochs plus a seeded partial epoch (its documents in the order of a hash of ``(seed, id)`` up to
the prefix whose tokens come closest to the remainder), so each group's count is within one
document of its target; ``manifest["sources"][g]["epochs"]`` reports the repeats. Every copy of a
document gets its own shuffle key.

Resumable and parallel: ``resume=True`` (``--resume``) finishes an interrupted export with
byte-identical shards; ``workers`` does not change a byte. Example (tested in the README):

    >>> from winnow.export import export, TokenDataset                      # doctest: +SKIP
    >>> man = export("runs/demo", "runs/demo_tokens", tokenizer="gpt2", seq_len=256)   # doctest: +SKIP
    >>> ds = TokenDataset("runs/demo_tokens", rank=0, world_size=1, seed=0)  # doctest: +SKIP
"""

# everything loads on first use: ``winnow --help`` imports this package's CLI without numpy/pyarrow/torch
_LAZY = {
    "export": "winnow.deliver.export.core",
    "load_mix": "winnow.deliver.export.core",
    "ExportError": "winnow.deliver.export.core",
    "ExportExistsError": "winnow.deliver.export.core",
    "load_tokenizer": "winnow.deliver.export.tokenizer",
    "TokenizerError": "winnow.deliver.export.tokenizer",
    "TokenDataset": "winnow.deliver.export.dataset",
}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'winnow.export' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
