"""Deduplication steps: exact (normalised-text hash), MinHash-LSH (fuzzy) and semantic (SemDeDup).

All three are :class:`~winnow.core.pipeline.step.GlobalStep` s (map → reduce → apply), keep the row
with the smallest id of each duplicate group and record ``duplicate_of`` / ``cluster_id``.

Example:
    >>> from winnow import Pipeline
    >>> Pipeline([{"exact_dedup": {}}, {"minhash_dedup": {"threshold": 0.8}}])  # doctest: +ELLIPSIS
    Pipeline([...])
"""
