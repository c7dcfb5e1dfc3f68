"""Writers: Parquet (or JSONL, or Arrow IPC) shards with a target size, written atomically.

Each file is written under a temporary name and renamed into place when closed, so a
crash never leaves a half-written shard under its final name.

Example:
    >>> w = ShardWriter("out/data", prefix="00000", max_rows=100_000)   # doctest: +SKIP
    >>> w.write(table); paths = w.close()                               # doctest: +SKIP
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
import threading
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq


class ShardWriter:
    """Append Arrow tables to numbered shards ``{prefix}-{k:04d}.parquet``.

    A new shard starts when the current one reaches ``max_rows`` or ``max_bytes``
    (in-memory Arrow size), or when the schema changes in a way that cannot be cast.
    Files appear under their final name only once complete (``os.replace``).
    """

    def __init__(
        self,
        directory: str,
        prefix: str,
        *,
        max_rows: int = 1_000_000,
        max_bytes: int = 512 << 20,
        format: Literal["parquet", "jsonl", "arrow"] = "parquet",
        compression: str = "zstd",
        use_dictionary: bool = True,
    ):
        self.directory = directory
        self.use_dictionary = use_dictionary
        self.prefix = prefix
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.format = format
        self.compression = compression
        self.paths: list[str] = []
        self._writer = None
        self._fh = None
        self._tmp = None
        self._final = None
        self._schema: pa.Schema | None = None
        self._rows = 0
        self._bytes = 0
        self.rows_written = 0

    def _open(self, schema: pa.Schema):
        os.makedirs(self.directory, exist_ok=True)
        k = len(self.paths)
        ext = {"parquet": "parquet", "arrow": "arrow"}.get(self.format, "jsonl.gz")
        self._final = os.path.join(self.directory, f"{self.prefix}-{k:04d}.{ext}")
        self._tmp = self._final + f".tmp-{os.getpid()}"
        if self.format == "parquet":
            self._writer = pq.ParquetWriter(
                self._tmp, schema, compression=self.compression, use_dictionary=self.use_dictionary
            )
        elif self.format == "arrow":  # an IPC file: buffers as they are (intermediate data, read back once)
            self._fh = pa.OSFile(self._tmp, "wb")
            self._writer = pa.ipc.new_file(self._fh, schema)
        else:
            self._fh = gzip.open(self._tmp, "wb", compresslevel=3)
        self._schema = schema
        self._rows = 0
        self._bytes = 0

    def _finish(self):
        if self._writer is not None:
            self._writer.close()
        if self._fh is not None:
            self._fh.close()
        if self._tmp is not None:
            os.replace(self._tmp, self._final)
            self.paths.append(self._final)
        self._writer = self._fh = self._tmp = self._final = None
        self._schema = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._schema is not None and table.schema != self._schema:
            cast = None
            if set(table.schema.names) == set(self._schema.names):
                try:
                    cast = table.select(self._schema.names).cast(self._schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                    cast = None
            if cast is not None:
                table = cast
            else:
                self._finish()  # incompatible schema: start a new shard
        # split the table so that shards honour max_rows
        start = 0
        while start < table.num_rows:
            if self._schema is None:
                self._open(table.schema)
            room = self.max_rows - self._rows
            part = table.slice(start, room)
            if self.format in ("parquet", "arrow"):
                self._writer.write_table(part)
            else:
                self._fh.write(_to_jsonl(part))
            self._rows += part.num_rows
            self._bytes += part.nbytes
            self.rows_written += part.num_rows
            start += part.num_rows
            if self._rows >= self.max_rows or self._bytes >= self.max_bytes:
                self._finish()

    def close(self) -> list[str]:
        self._finish()
        return self.paths

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._fh is not None:
            self._fh.close()
        if self._tmp and os.path.exists(self._tmp):
            os.remove(self._tmp)
        self._writer = self._fh = self._tmp = None


def _to_jsonl(table: pa.Table) -> bytes:
    buf = io.StringIO()
    for row in table.to_pylist():
        buf.write(json.dumps(row, ensure_ascii=False, default=str))
        buf.write("\n")
    return buf.getvalue().encode("utf-8")


def read_dataset_table(directory: str, columns: list[str] | None = None) -> pa.Table:
    """Read every Parquet shard of a folder (e.g. ``RUN/data``) into one table, in shard order.

    Example:
        >>> kept = read_dataset_table("runs/demo/data", columns=["id"])   # doctest: +SKIP
    """
    files = sorted(glob.glob(os.path.join(directory, "*.parquet")))
    if not files:
        return pa.table({c: pa.array([], pa.string()) for c in (columns or ["id"])})
    tables = [pq.read_table(f, columns=columns) for f in files]
    return pa.concat_tables(tables, promote_options="permissive")


#: columns every rejects file starts with, in this order (then the rest, in first-seen order)
LEADING_COLUMNS = ("id", "text", "source", "step", "reason")


def unify_folder_schema(
    directory: str, leading: tuple[str, ...] = LEADING_COLUMNS, threads: int = 1, run=None
) -> pa.Schema | None:
    """Give every Parquet shard of ``directory`` one schema, so the folder reads as one table.

    Steps add different statistic columns, so a run's ``rejects/`` files differ per step; polars
    ``scan_parquet``, HF ``load_dataset("parquet")`` and DuckDB refuse (or pandas silently drops
    columns). The union schema (types promoted permissively) is computed from the files' metadata;
    only files that differ from it are rewritten (missing columns as nulls; atomically) by
    :func:`rewrite_to_schema`: through ``run(fn, [args, ...])`` when given (a run passes its
    executor's workers: processes, so the rewrites scale with them), else on ``threads`` threads.
    Each file is rewritten on its own, so the result does not depend on worker counts. Returns
    the schema.

    Example:
        >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
        >>> d = tempfile.mkdtemp()
        >>> pq.write_table(pa.table({"id": ["a"], "step": ["length"], "n_words": [3]}), f"{d}/a.parquet")
        >>> pq.write_table(pa.table({"id": ["b"], "step": ["pii"], "pii_total": [2.5]}), f"{d}/b.parquet")
        >>> unify_folder_schema(d).names
        ['id', 'step', 'n_words', 'pii_total']
        >>> pq.read_table(f"{d}/a.parquet").column("pii_total").to_pylist()
        [None]
    """
    files = sorted(glob.glob(os.path.join(directory, "*.parquet")))
    if len(files) < 2:
        return pq.read_schema(files[0]) if files else None
    schemas = [pq.read_schema(f) for f in files]
    meta_free = [s.remove_metadata() for s in schemas]
    if all(s.equals(meta_free[0]) for s in meta_free[1:]):
        return schemas[0]
    union = pa.unify_schemas(meta_free, promote_options="permissive")
    names = [c for c in leading if c in union.names] + [c for c in union.names if c not in leading]
    union = pa.schema([union.field(c) for c in names])
    todo = [f for f, s in zip(files, meta_free) if not s.equals(union)]
    if run is not None and len(todo) > 1:
        k = min(len(todo), 4 * max(1, threads))  # a few lists of files per worker: even loads
        run(rewrite_to_schema, [(todo[i::k], union) for i in range(k)])
    elif threads > 1 and len(todo) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(threads, len(todo))) as pool:
            list(pool.map(lambda f: rewrite_to_schema([f], union), todo))  # list(): re-raise the first failure
    else:
        rewrite_to_schema(todo, union)
    return union


def rewrite_to_schema(files: list[str], union: pa.Schema) -> int:
    """Rewrite each Parquet file of ``files`` with schema ``union`` (its columns cast, the missing
    ones as nulls), atomically; returns the number of files."""
    for f in files:
        t = pq.read_table(f)
        cols = [
            t.column(c).cast(union.field(c).type) if c in t.column_names else pa.nulls(t.num_rows, union.field(c).type)
            for c in union.names
        ]
        tmp = f + f".tmp-{os.getpid()}-{threading.get_ident()}"
        pq.write_table(pa.Table.from_arrays(cols, schema=union), tmp, compression="zstd")
        os.replace(tmp, f)
    return len(files)
