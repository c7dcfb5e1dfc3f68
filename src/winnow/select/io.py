"""Read a pool or target (any winnow input: JSONL, Parquet, text folders, globs) into one Arrow table."""

from __future__ import annotations

import pyarrow as pa


def read_table(path: str | list[str], text_column: str = "text", format: str | None = None) -> pa.Table:
    """All readable records of ``path`` as one table (``id``, ``text``/payload, ``source``, extra columns).

    Example:
        >>> t = read_table("data/sample/raw/*.jsonl.gz")      # doctest: +SKIP
    """
    from winnow.core.io.readers import InputSpec, plan_tasks, read_task

    spec = InputSpec(path=path, text_column=text_column, format=format)
    parts = [c.table for task in plan_tasks(spec) for c in read_task(spec, task) if c.table.num_rows]
    if not parts:
        raise ValueError(f"no readable records in {path!r}")
    return pa.concat_tables(parts, promote_options="permissive")
