"""Readers: JSONL (plain/.gz/.zst), Parquet, folders of .txt/.md, HTML, CSV/TSV, Arrow IPC and HF
dataset folders, WARC/WET (the last four in :mod:`winnow.core.io.formats`) — over any fsspec URL.

Reading is split into *tasks* (one input file, or a group of small files for text/HTML
folders). A task yields :class:`ReadChunk` objects: a table of good records in the record
contract (``id``, ``text``, ``source``, extra columns) plus a quarantine table of everything
that could not be read (file, offset, error). Nothing is dropped silently.

Example:
    >>> spec = InputSpec(path="raw/*.jsonl.gz")             # doctest: +SKIP
    >>> for task in plan_tasks(spec):                       # doctest: +SKIP
    ...     for chunk in read_task(spec, task):
    ...         print(chunk.table.num_rows, chunk.quarantine.num_rows)
"""
from __future__ import annotations

import json
import os
import posixpath
import zlib
from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from winnow.core.io.formats import FORMAT_SUFFIXES, hf_dataset_files, read_format
from winnow.core.records import ensure_record_columns, quarantine_table, empty_quarantine
from winnow.errors import InputError  # defined there; importable from here too

Format = Literal["jsonl", "parquet", "text", "html", "csv", "tsv", "arrow", "warc"]

#: decompressed bytes parsed per JSONL block
JSONL_BLOCK_BYTES = 16 << 20
#: files grouped into one task for folders of small files
GROUP_FILES = 2000
GROUP_BYTES = 64 << 20

_SUFFIX_FORMATS = {
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
    ".txt": "text", ".md": "text", ".rst": "text",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    **FORMAT_SUFFIXES,
}
_COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2", ".xz": "xz"}


class InputSpec(BaseModel):
    """Where and how to read input: the ``input:`` mapping of a pipeline YAML, validated.

    Attributes:
        path: a file, a folder, a glob, or a list of them; local paths or fsspec URLs.
        format: ``jsonl``, ``parquet``, ``text``, ``html``, ``csv``, ``tsv``, ``arrow`` (also HF
            ``save_to_disk`` folders) or ``warc`` (WARC/WET); inferred from the suffix if None.
        text_column: field holding the payload (renamed to ``text``).
        id_column: field holding a stable id (renamed to ``id``); missing ids are derived
            from file + offset.
        source: value for the ``source`` column when the input has none (default: the file).
        batch_rows: rows per Arrow batch for Parquet input.
        storage_options: fsspec options (credentials, endpoints) for remote paths.

    Example:
        >>> InputSpec(path="raw/", batch_rows=1024).batch_rows
        1024
    """

    model_config = ConfigDict(extra="forbid")
    path: str | list[str]
    format: Format | None = None
    text_column: str = "text"
    id_column: str = "id"
    source: str | None = None
    batch_rows: int = Field(8192, gt=0)
    storage_options: dict = Field(default_factory=dict)


@dataclass
class ReadTask:
    """A unit of parallel work: one file or a group of small files, with its index."""

    index: int
    files: list[str]
    format: Format
    size: int


@dataclass
class ReadChunk:
    table: pa.Table
    quarantine: pa.Table
    bytes_read: int = 0


def infer_format(path: str) -> Format | None:
    name = path.lower()
    for suf in _COMPRESSIONS:
        if name.endswith(suf):
            name = name[: -len(suf)]
    _, ext = posixpath.splitext(name)
    return _SUFFIX_FORMATS.get(ext)  # type: ignore[return-value]


def _fs_and_paths(spec: InputSpec) -> tuple[object, list[tuple[str, int]], str]:
    import fsspec

    paths = spec.path if isinstance(spec.path, list) else [spec.path]
    out: list[tuple[str, int]] = []
    fs = None
    protocol = ""
    for p in paths:
        fs_, _, _ = fsspec.get_fs_token_paths(p, storage_options=spec.storage_options)
        fs = fs or fs_
        protocol = fs_.protocol if isinstance(fs_.protocol, str) else fs_.protocol[0]
        stripped = fs_._strip_protocol(p)
        hf = hf_dataset_files(fs_, stripped) if fs_.isdir(stripped) else None
        if hf is not None:  # a Dataset.save_to_disk folder: its Arrow shards, in order
            found = {f: fs_.info(f) for f in hf}
        elif fs_.isdir(stripped):
            found = fs_.find(stripped, detail=True)
        elif any(ch in stripped for ch in "*?["):
            found = fs_.glob(stripped, detail=True)
        elif fs_.exists(stripped):
            found = {stripped: fs_.info(stripped)}
        else:
            raise InputError(f"input path does not exist: {p}")
        for name, info in (found.items() if hf is not None else sorted(found.items())):
            if info.get("type", "file") != "file":
                continue
            base = posixpath.basename(name)
            if base.startswith(".") or base.startswith("_"):
                continue
            out.append((name, int(info.get("size") or 0)))
    if not out:
        raise InputError(f"no input files match {spec.path!r}")
    return fs, out, protocol


def _unstrip(protocol: str, name: str) -> str:
    if protocol in ("file", "local", ""):
        return name
    return f"{protocol}://{name}"


def plan_tasks(spec: InputSpec) -> list[ReadTask]:
    """Split the input into deterministic tasks (sorted files; small files grouped)."""
    _, files, protocol = _fs_and_paths(spec)
    tasks: list[ReadTask] = []
    group: list[str] = []
    gsize = 0
    gfmt: Format | None = None

    def flush():
        nonlocal group, gsize, gfmt
        if group:
            tasks.append(ReadTask(len(tasks), group, gfmt, gsize))  # type: ignore[arg-type]
        group, gsize, gfmt = [], 0, None

    for name, size in files:
        fmt = spec.format or infer_format(name)
        if fmt is None:
            raise InputError(
                f"cannot infer the format of {name!r}; set input.format to one of "
                "jsonl, parquet, text, html, csv, tsv, arrow, warc"
            )
        full = _unstrip(protocol, name)
        if fmt not in ("text", "html"):  # one task per file
            flush()
            tasks.append(ReadTask(len(tasks), [full], fmt, size))
        else:
            if gfmt not in (None, fmt) or len(group) >= GROUP_FILES or gsize >= GROUP_BYTES:
                flush()
            gfmt = fmt
            group.append(full)
            gsize += size
    flush()
    return tasks


def _display_name(path: str) -> str:
    """Path recorded in ids: relative to the working directory when local."""
    if "://" in path:
        return path
    try:
        rel = os.path.relpath(path)
        return path if rel.startswith("..") else rel
    except ValueError:
        return path


def read_task(spec: InputSpec, task: ReadTask) -> Iterator[ReadChunk]:
    """Read one task, yielding good records and quarantined input, in a deterministic order."""
    if task.format == "jsonl":
        yield from _read_jsonl(spec, task.files[0])
    elif task.format == "parquet":
        yield from _read_parquet(spec, task.files[0])
    elif task.format in ("text", "html"):
        yield from _read_docs(spec, task.files, task.format)
    elif task.format in ("csv", "tsv", "arrow", "warc"):
        yield from read_format(spec, task.files[0], task.format, _display_name(task.files[0]), _open_binary)
    else:  # pragma: no cover - guarded by plan_tasks
        raise InputError(f"unknown format {task.format}")


# ---------------------------------------------------------------- JSONL


def _compression(path: str) -> str | None:
    low = path.lower()
    for suf, c in _COMPRESSIONS.items():
        if low.endswith(suf):
            return c
    return None


def _open_binary(path: str, spec: InputSpec):
    """Open a (possibly compressed) file for reading bytes.

    gzip and zstd are decoded incrementally by :class:`_StreamDecoder`, so a truncated or
    corrupt stream yields every byte that could be decoded before the error is raised.
    """
    import fsspec

    comp = _compression(path)
    if comp in ("gzip", "zstd"):
        raw = fsspec.open(path, "rb", **spec.storage_options).open()
        return _StreamDecoder(raw, comp)
    return fsspec.open(path, "rb", compression=comp, **spec.storage_options).open()


class _StreamDecoder:
    """Incremental gzip (multi-member) / zstd decoder over a raw byte stream."""

    def __init__(self, raw, comp: str, chunk: int = 1 << 20):
        self.raw = raw
        self.comp = comp
        self.chunk = chunk
        self._buf = bytearray()
        self._eof = False
        self._new()

    def _new(self):
        if self.comp == "gzip":
            self._d = zlib.decompressobj(wbits=31)
        else:
            import zstandard

            self._d = zstandard.ZstdDecompressor().decompressobj()
        self._started = False

    def _fill(self, want: int) -> None:
        while len(self._buf) < want and not self._eof:
            data = self.raw.read(self.chunk)
            if not data:
                self._eof = True
                if self._started and not self._d.eof:
                    raise EOFError("compressed stream ended before the end-of-stream marker (truncated file)")
                break
            while data:
                self._started = True
                try:
                    out = self._d.decompress(data)
                except Exception as e:  # zlib.error / zstandard.ZstdError
                    raise ValueError(f"corrupt compressed data: {e}") from None
                self._buf += out
                if self._d.eof:
                    data = self._d.unused_data
                    self._new()
                    if data:
                        self._started = True
                else:
                    data = b""

    def read(self, n: int = -1) -> bytes:
        try:
            self._fill(n if n >= 0 else 1 << 62)
        except Exception as e:
            e.partial = bytes(self._buf)  # type: ignore[attr-defined]
            self._buf.clear()
            raise
        if n < 0:
            n = len(self._buf)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def close(self):
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_jsonl(spec: InputSpec, path: str) -> Iterator[ReadChunk]:
    name = _display_name(path)
    try:
        fh = _open_binary(path, spec)
    except Exception as e:  # unreadable file as a whole
        yield ReadChunk(empty_records(), quarantine_table([dict(file=name, offset=0, error=f"cannot open: {e}")]))
        return
    base = 0  # decompressed offset of `pending`
    pending = b""
    with fh:
        while True:
            try:
                block = fh.read(JSONL_BLOCK_BYTES)
            except (EOFError, OSError, zlib.error, ValueError) as e:
                # corrupt/truncated compressed stream: keep what decoded, quarantine the rest
                pending += getattr(e, "partial", b"")
                cut = pending.rfind(b"\n") + 1
                if cut:
                    yield _parse_jsonl_block(spec, name, pending[:cut], base)
                yield ReadChunk(
                    empty_records(),
                    quarantine_table([dict(file=name, offset=base + cut, error=f"corrupt input stream: {type(e).__name__}: {e}",
                                           raw=pending[cut:cut + 200].decode("utf-8", "replace"))]),
                )
                return
            if not block:
                break
            pending = pending + block if pending else block
            cut = pending.rfind(b"\n") + 1
            if cut == 0:
                continue  # a single line longer than a block: keep reading
            yield _parse_jsonl_block(spec, name, pending[:cut], base)
            base += cut
            pending = pending[cut:]
    if pending.strip():
        yield _parse_jsonl_block(spec, name, pending, base)


def empty_records() -> pa.Table:
    return pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string()),
                     "source": pa.array([], pa.string())})


def _line_bounds(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [len(buf)]])
    if starts[-1] >= len(buf):  # buffer ends with a newline
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _parse_jsonl_block(spec: InputSpec, name: str, buf: bytes, base: int) -> ReadChunk:
    from pyarrow import json as pajson

    starts, ends = _line_bounds(buf)
    lens = ends - starts
    arr = np.frombuffer(buf, dtype=np.uint8)
    # blank lines: empty, or a lone "\r"
    last = arr[np.maximum(ends - 1, 0)] if len(buf) else np.zeros(0, np.uint8)
    blank = (lens == 0) | ((lens == 1) & (last == 13))
    good_starts = starts[~blank]
    table = None
    try:
        table = pajson.read_json(
            pa.BufferReader(pa.py_buffer(buf)),
            read_options=pajson.ReadOptions(block_size=max(len(buf) + 1, 1 << 20), use_threads=True),
            parse_options=pajson.ParseOptions(newlines_in_values=False),
        )
        if table.num_rows != len(good_starts):
            table = None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        table = None
    if table is not None:
        fixed = _finish_table(spec, name, table, base + good_starts)
        if fixed is not None:
            return fixed
    return _parse_jsonl_slow(spec, name, buf, base, starts[~blank], ends[~blank])


def _finish_table(spec: InputSpec, name: str, table: pa.Table, offsets: np.ndarray) -> ReadChunk | None:
    """Validate the text column of a fast-parsed table; None means "use the slow path"."""
    tc = spec.text_column
    if tc not in table.column_names:
        qs = [dict(file=name, offset=int(o), error=f"missing required column {tc!r}") for o in offsets]
        return ReadChunk(empty_records(), quarantine_table(qs))
    col = table.column(tc)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type)):
        return None  # mixed or odd types: decide per line
    # drop nested columns that would make shards fragile? keep them: Parquet stores them fine.
    if col.null_count:
        bad = np.asarray(col.is_null().to_numpy(zero_copy_only=False))
        qs = [dict(file=name, offset=int(o), error=f"missing required column {tc!r}") for o in offsets[bad]]
        table = table.filter(pa.array(~bad))
        offsets = offsets[~bad]
        q = quarantine_table(qs)
    else:
        q = empty_quarantine()
    t = ensure_record_columns(table, file=name, offsets=offsets, source=spec.source,
                              text_column=tc, id_column=spec.id_column)
    return ReadChunk(t, q)


def _parse_jsonl_slow(spec, name, buf, base, starts, ends) -> ReadChunk:
    rows: list[dict] = []
    offs: list[int] = []
    qs: list[dict] = []
    tc = spec.text_column
    for s, e in zip(starts.tolist(), ends.tolist()):
        raw = buf[s:e]
        off = base + s
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            qs.append(dict(file=name, offset=off, error=f"undecodable bytes (not UTF-8): {err}",
                           raw=raw[:200].decode("utf-8", "replace")))
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            qs.append(dict(file=name, offset=off, error=f"invalid JSON: {err}", raw=line[:200]))
            continue
        if not isinstance(obj, dict):
            qs.append(dict(file=name, offset=off, error=f"JSON line is a {type(obj).__name__}, expected an object", raw=line[:200]))
            continue
        txt = obj.get(tc)
        if txt is None:
            qs.append(dict(file=name, offset=off, error=f"missing required column {tc!r}", raw=line[:200]))
            continue
        if not isinstance(txt, str):
            if isinstance(txt, (int, float, bool)):
                obj[tc] = str(txt)
            else:
                qs.append(dict(file=name, offset=off, error=f"column {tc!r} is a {type(txt).__name__}, expected a string", raw=line[:200]))
                continue
        rows.append(obj)
        offs.append(off)
    if rows:
        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # fields with mixed types across lines: keep contract columns typed, others as JSON strings
            keys = sorted({k for r in rows for k in r})
            cols = {}
            for k in keys:
                vals = [r.get(k) for r in rows]
                if k in (tc, spec.id_column, "source"):
                    cols[k] = pa.array([None if v is None else str(v) for v in vals], pa.string())
                else:
                    cols[k] = pa.array([None if v is None else json.dumps(v) for v in vals], pa.string())
            table = pa.table(cols)
        t = ensure_record_columns(table, file=name, offsets=np.asarray(offs), source=spec.source,
                                  text_column=tc, id_column=spec.id_column)
    else:
        t = empty_records()
    return ReadChunk(t, quarantine_table(qs))


# ---------------------------------------------------------------- Parquet


def _read_parquet(spec: InputSpec, path: str) -> Iterator[ReadChunk]:
    import pyarrow.parquet as pq

    name = _display_name(path)
    try:
        fh = _open_binary(path, spec)
        pf = pq.ParquetFile(fh)
    except Exception as e:
        yield ReadChunk(empty_records(), quarantine_table([dict(file=name, offset=0, error=f"not a readable Parquet file: {e}")]))
        return
    cols = pf.schema_arrow.names
    tc = spec.text_column
    if tc not in cols:
        yield ReadChunk(empty_records(), quarantine_table([dict(
            file=name, offset=0, rows=pf.metadata.num_rows,
            error=f"missing required column {tc!r}; the file has columns {cols}")]))
        return
    row0 = 0
    try:
        for batch in pf.iter_batches(batch_size=spec.batch_rows):
            t = pa.Table.from_batches([batch])
            offsets = np.arange(row0, row0 + t.num_rows)
            row0 += t.num_rows
            col = t.column(tc)
            q = empty_quarantine()
            if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
                try:
                    t = t.set_column(t.column_names.index(tc), tc, pc.cast(col, pa.string()))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    yield ReadChunk(empty_records(), quarantine_table([dict(
                        file=name, offset=int(offsets[0]), rows=t.num_rows,
                        error=f"column {tc!r} has type {col.type}, expected string")]))
                    continue
                col = t.column(tc)
            if col.null_count:
                bad = col.is_null().to_numpy(zero_copy_only=False)
                q = quarantine_table([dict(file=name, offset=int(o), error=f"missing required column {tc!r} (null)") for o in offsets[bad]])
                t = t.filter(pa.array(~bad))
                offsets = offsets[~bad]
            if t.column(tc).type == pa.large_string():
                t = t.set_column(t.column_names.index(tc), tc, pc.cast(t.column(tc), pa.string()))
            yield ReadChunk(ensure_record_columns(t, file=name, offsets=offsets, source=spec.source,
                                                  text_column=tc, id_column=spec.id_column), q)
    except Exception as e:  # corrupt page / truncated file after some batches
        remaining = max(pf.metadata.num_rows - row0, 1)
        yield ReadChunk(empty_records(), quarantine_table([dict(file=name, offset=row0, rows=remaining,
                                                                error=f"corrupt Parquet data: {e}")]))


# ---------------------------------------------------------------- text and HTML folders


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8 (BOM tolerated); raise UnicodeDecodeError otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


def html_to_text(data: bytes) -> str:
    """Main-content text of an HTML page with resiliparse (boilerplate such as nav removed)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    html = bytes_to_str(data, detect_encoding(data))
    tree = HTMLTree.parse(html)
    return extract_plain_text(tree, main_content=True, alt_texts=False, links=False,
                              list_bullets=True, noscript=False)


def _read_docs(spec: InputSpec, files: list[str], fmt: str) -> Iterator[ReadChunk]:
    ids: list[str] = []
    texts: list[str] = []
    offsets: list[int] = []
    qs: list[dict] = []
    for path in files:
        name = _display_name(path)
        try:
            with _open_binary(path, spec) as fh:
                data = fh.read()
        except Exception as e:
            qs.append(dict(file=name, offset=0, error=f"cannot read: {type(e).__name__}: {e}"))
            continue
        try:
            text = html_to_text(data) if fmt == "html" else decode_text(data)
        except UnicodeDecodeError as e:
            qs.append(dict(file=name, offset=e.start, error=f"undecodable bytes (not UTF-8): {e}",
                           raw=data[:200].decode("utf-8", "replace")))
            continue
        except Exception as e:
            qs.append(dict(file=name, offset=0, error=f"HTML extraction failed: {type(e).__name__}: {e}"))
            continue
        ids.append(name)
        texts.append(text)
        offsets.append(0)
    if texts:
        t = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
        if fmt == "html":
            t = t.append_column("url", pa.array(ids, pa.string()))
        t = ensure_record_columns(t, file="", offsets=offsets, source=spec.source or fmt)
    else:
        t = empty_records()
    yield ReadChunk(t, quarantine_table(qs))
