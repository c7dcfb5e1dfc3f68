"""Training-ready output: tokenize, mix, shuffle, pack and shard a winnow run (``winnow.export``).

    >>> from winnow.export import export, TokenDataset                      # doctest: +SKIP
    >>> man = export("runs/demo", "runs/demo_tokens", tokenizer="gpt2", seq_len=256)   # doctest: +SKIP
    >>> ds = TokenDataset("runs/demo_tokens", rank=0, world_size=1, seed=0)  # doctest: +SKIP
"""
from winnow.deliver.export.core import ExportError, ExportExistsError, export, load_mix
from winnow.deliver.export.tokenizer import TokenizerError, load_tokenizer

__all__ = ["export", "load_mix", "load_tokenizer", "ExportError", "ExportExistsError", "TokenizerError",
           "TokenDataset"]


def __getattr__(name):
    if name == "TokenDataset":  # imports torch: loaded on first use
        from winnow.deliver.export.dataset import TokenDataset

        return TokenDataset
    raise AttributeError(name)
