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
import re
import zlib
from dataclasses import dataclass, field
from typing import Iterator, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from winnow.core.io.formats import FORMAT_SUFFIXES, hf_dataset_files, read_format
from winnow.core.io.validate import MAX_JSON_DEPTH, invalid_utf8_rows, lines_array, too_deep_lines
from winnow.core.records import ensure_record_columns, quarantine_table
from winnow.errors import InputError  # defined there; importable from here too

Format = Literal["jsonl", "parquet", "text", "html", "csv", "tsv", "arrow", "warc"]

#: decompressed bytes parsed per JSONL block
JSONL_BLOCK_BYTES = 16 << 20
#: files grouped into one task for folders of small files
GROUP_FILES = 2000
GROUP_BYTES = 64 << 20

_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "text",
    ".md": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
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
        max_chars: documents whose text is longer are quarantined with the reason (one giant
            document would otherwise cost tens of times its size in memory); None: no bound.
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
    max_chars: int | None = Field(10_000_000, gt=0)


@dataclass
class ReadTask:
    """A unit of parallel work: one file or a group of small files, with its index."""

    index: int
    files: list[str]
    format: Format
    size: int
    #: names recorded in ids and quarantine: relative to the input root (stable across cwd)
    names: list[str] = field(default_factory=list)
    #: (size, mtime) of each file when planned: what ``--resume`` compares
    stamps: list[tuple[int, str]] = field(default_factory=list)

    def name(self, i: int) -> str:
        return self.names[i] if self.names else _display_name(self.files[i])


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


def _input_root(fs, stripped: str) -> str:
    """The folder an input path is relative to: the folder itself, a glob's fixed prefix
    folder, or a file's parent folder."""
    if any(ch in stripped for ch in "*?["):
        head = stripped[: min(stripped.index(ch) for ch in "*?[" if ch in stripped)]
        return head if head.endswith("/") else posixpath.dirname(head)
    return stripped if fs.isdir(stripped) else posixpath.dirname(stripped)


def _check_walkable(root: str) -> None:
    """Raise :class:`InputError` for a local sub-folder that cannot be listed (it would be
    skipped silently otherwise)."""
    errors: list[OSError] = []
    for _ in os.walk(root, onerror=errors.append):
        if errors:
            break
    if errors:
        e = errors[0]
        raise InputError(
            f"cannot read input folder {e.filename}: {e.strerror}; fix its permissions "
            "or point input.path at readable files only"
        )


def _mtime(info: dict) -> str:
    for k in ("mtime", "LastModified", "last_modified", "updated", "mtime_ns", "created"):
        if info.get(k) is not None:
            return str(info[k])
    return ""


def _fs_and_paths(
    spec: InputSpec, exclude: list[str] | None = None
) -> tuple[object, list[tuple[str, int, str]], str, str]:
    import fsspec

    paths = spec.path if isinstance(spec.path, list) else [spec.path]
    out: list[tuple[str, int, str]] = []
    fs = None
    protocol = ""
    roots: list[str] = []
    skip = [os.path.abspath(x).rstrip("/") + "/" for x in (exclude or [])]
    for p in paths:
        fs_, _, _ = fsspec.get_fs_token_paths(p, storage_options=spec.storage_options)
        fs = fs or fs_
        protocol = fs_.protocol if isinstance(fs_.protocol, str) else fs_.protocol[0]
        stripped = fs_._strip_protocol(p)
        local = protocol in ("file", "local", "")
        hf = hf_dataset_files(fs_, stripped) if fs_.isdir(stripped) else None
        if hf is not None:  # a Dataset.save_to_disk folder: its Arrow shards, in order
            found = {f: fs_.info(f) for f in hf}
        elif fs_.isdir(stripped):
            if local:
                _check_walkable(stripped)
            found = fs_.find(stripped, detail=True)
        elif any(ch in stripped for ch in "*?["):
            found = fs_.glob(stripped, detail=True)
        elif fs_.exists(stripped):
            found = {stripped: fs_.info(stripped)}
        else:
            raise InputError(f"input path does not exist: {p}")
        roots.append(_input_root(fs_, stripped))
        for name, info in found.items() if hf is not None else sorted(found.items()):
            if info.get("type", "file") != "file":
                continue
            base = posixpath.basename(name)
            if base.startswith(".") or base.startswith("_"):
                continue
            if local and skip and any((os.path.abspath(name) + "/").startswith(x) for x in skip):
                continue  # the run's own output folder inside the input folder
            out.append((name, int(info.get("size") or 0), _mtime(info)))
    if not out:
        raise InputError(f"no input files match {spec.path!r}")
    try:
        root = posixpath.commonpath(roots) if len(roots) > 1 else roots[0]
    except ValueError:
        root = ""
    return fs, out, protocol, root


def _unstrip(protocol: str, name: str) -> str:
    if protocol in ("file", "local", ""):
        return name
    return f"{protocol}://{name}"


def _relative_name(name: str, root: str) -> str:
    if root and name.startswith(root.rstrip("/") + "/"):
        return name[len(root.rstrip("/")) + 1 :]
    return posixpath.basename(name) if root and posixpath.dirname(name) == root else name


def plan_tasks(spec: InputSpec, exclude: list[str] | None = None) -> list[ReadTask]:
    """Split the input into deterministic tasks (sorted files; small files grouped).

    Files under a folder of ``exclude`` (e.g. the run's own output folder when it sits
    inside the input folder) are left out. Each task records the files' names relative to
    the input root (used in ids, so ids do not depend on the working directory) and their
    size and modification time (compared by ``--resume``).
    """
    _, files, protocol, root = _fs_and_paths(spec, exclude)
    tasks: list[ReadTask] = []
    group: list[tuple[str, int, str]] = []
    gsize = 0
    gfmt: Format | None = None

    def make(items, fmt, size):
        return ReadTask(
            len(tasks),
            [_unstrip(protocol, n) for n, _, _ in items],
            fmt,
            size,
            names=[_relative_name(n, root) for n, _, _ in items],
            stamps=[(sz, mt) for _, sz, mt in items],
        )

    def flush():
        nonlocal group, gsize, gfmt
        if group:
            tasks.append(make(group, gfmt, gsize))
        group, gsize, gfmt = [], 0, None

    for item in files:
        name, size, _ = item
        fmt = spec.format or infer_format(name)
        if fmt is None:
            raise InputError(
                f"cannot infer the format of {name!r}; set input.format to one of "
                "jsonl, parquet, text, html, csv, tsv, arrow, warc"
            )
        if fmt not in ("text", "html"):  # one task per file
            flush()
            tasks.append(make([item], fmt, size))
        else:
            if gfmt not in (None, fmt) or len(group) >= GROUP_FILES or gsize >= GROUP_BYTES:
                flush()
            gfmt = fmt
            group.append(item)
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
    """Read one task, yielding good records and quarantined input, in a deterministic order.

    Ids use the files' names relative to the input root; quarantine entries name the file
    by its full path (where to look), with the byte offset (JSONL) or row (Parquet).
    """
    if task.format == "jsonl":
        chunks = _read_jsonl(spec, task.files[0], task.name(0))
    elif task.format == "parquet":
        chunks = _read_parquet(spec, task.files[0], task.name(0))
    elif task.format in ("text", "html"):
        chunks = _read_docs(spec, task.files, task.format, [task.name(i) for i in range(len(task.files))])
    elif task.format in ("csv", "tsv", "arrow", "warc"):
        chunks = read_format(spec, task.files[0], task.format, task.name(0), _open_binary)
    else:  # pragma: no cover - guarded by plan_tasks
        raise InputError(f"unknown format {task.format}")
    full = {task.name(i): f for i, f in enumerate(task.files)}
    for chunk in chunks:
        q = chunk.quarantine
        if q.num_rows:
            files = pa.array([full.get(f, f) for f in q.column("file").to_pylist()], pa.string())
            chunk.quarantine = q.set_column(q.schema.get_field_index("file"), "file", files)
        yield chunk


# ---------------------------------------------------------------- JSONL


def _compression(path: str) -> str | None:
    low = path.lower()
    for suf, c in _COMPRESSIONS.items():
        if low.endswith(suf):
            return c
    return None


#: raw (on-disk, compressed) bytes the readers of this process have read: the runner turns its
#: growth into progress within a file
RAW_BYTES_READ = [0]


class _Counted:
    """A file object that adds the bytes read through it to :data:`RAW_BYTES_READ`."""

    def __init__(self, fh):
        self._fh = fh

    def read(self, n=-1):
        b = self._fh.read(n)
        RAW_BYTES_READ[0] += len(b)
        return b

    def readinto(self, buf):
        n = self._fh.readinto(buf)
        RAW_BYTES_READ[0] += n or 0
        return n

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __iter__(self):
        return iter(self._fh)


def _open_binary(path: str, spec: InputSpec):
    """Open a (possibly compressed) file for reading bytes.

    Compressed streams are decoded incrementally by :class:`_StreamDecoder`, so a truncated
    or corrupt stream yields every byte that could be decoded before the error is raised.
    """
    import fsspec

    comp = _compression(path)
    raw = _Counted(fsspec.open(path, "rb", **spec.storage_options).open())
    return _StreamDecoder(raw, comp) if comp is not None else raw


def _decompressor(comp: str):
    if comp == "gzip":
        return zlib.decompressobj(wbits=31)
    if comp == "bz2":
        import bz2

        return bz2.BZ2Decompressor()
    if comp == "xz":
        import lzma

        return lzma.LZMADecompressor()
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


class _StreamDecoder:
    """Incremental gzip / zstd / bz2 / xz decoder (multi-member streams) over raw bytes.

    On a corrupt chunk the decoder state before that chunk is rebuilt (the stream is read
    again up to it) and the chunk is fed byte by byte, so every byte decodable before the
    fault is returned (as ``error.partial``) — not only the output of earlier chunks.
    """

    def __init__(self, raw, comp: str, chunk: int = 1 << 20):
        self.raw = raw
        self.comp = comp
        self.chunk = chunk
        self._buf = bytearray()
        self._eof = False
        self._consumed = 0  # raw bytes fed so far
        self._new()

    def _new(self):
        self._d = _decompressor(self.comp)
        self._started = False

    def _feed(self, data: bytes, out: bytearray) -> None:
        while data:
            self._started = True
            out += self._d.decompress(data)
            if self._d.eof:
                data = self._d.unused_data
                self._new()
            else:
                data = b""

    def _replay_to_fault(self, chunk: bytes) -> None:
        """Rebuild the state before ``chunk``, then feed it byte by byte until the fault."""
        try:
            self.raw.seek(0)
        except Exception:  # not seekable: keep what the earlier chunks gave
            return
        self._new()
        left = self._consumed
        sink = bytearray()
        while left > 0:
            data = self.raw.read(min(left, self.chunk))
            if not data:
                return
            left -= len(data)
            self._feed(data, sink)
            sink.clear()
        for i in range(len(chunk)):
            try:
                self._feed(chunk[i : i + 1], self._buf)
            except Exception:
                return

    def _fill(self, want: int) -> None:
        while len(self._buf) < want and not self._eof:
            data = self.raw.read(self.chunk)
            if not data:
                self._eof = True
                if self._started and not self._d.eof:
                    raise EOFError("compressed stream ended before the end-of-stream marker (truncated file)")
                break
            mark = len(self._buf)
            try:
                self._feed(data, self._buf)
            except Exception as e:  # zlib.error / zstandard.ZstdError / OSError / LZMAError
                del self._buf[mark:]
                self._replay_to_fault(data)
                raise ValueError(f"corrupt compressed data: {e}") from None
            self._consumed += len(data)

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


def _read_jsonl(spec: InputSpec, path: str, name: str) -> Iterator[ReadChunk]:
    try:
        fh = _open_binary(path, spec)
    except Exception as e:  # unreadable file as a whole
        yield ReadChunk(empty_records(), quarantine_table([dict(file=name, offset=0, error=f"cannot open: {e}")]))
        return
    base = 0  # decompressed offset of `pending`
    pending = b""
    limit = _line_limit(spec)
    skip_at = None  # offset of an over-long line being skipped without holding it in memory
    skipped = 0

    def too_long(at: int, n: int) -> ReadChunk:
        return ReadChunk(
            empty_records(),
            quarantine_table(
                [
                    dict(
                        file=name,
                        offset=at,
                        error=f"document too large: line of {n:,} bytes exceeds the bound of "
                        f"max_chars={spec.max_chars:,}",
                    )
                ]
            ),
        )

    with fh:
        while True:
            try:
                block = fh.read(JSONL_BLOCK_BYTES)
            except (EOFError, OSError, zlib.error, ValueError) as e:
                # corrupt/truncated compressed stream: keep what decoded, quarantine the rest
                if skip_at is not None:
                    yield too_long(skip_at, skipped + len(getattr(e, "partial", b"")))
                    base, pending = skip_at + skipped, b""
                else:
                    pending += getattr(e, "partial", b"")
                cut = pending.rfind(b"\n") + 1
                if cut:
                    yield _parse_jsonl_block(spec, name, pending[:cut], base)
                yield ReadChunk(
                    empty_records(),
                    quarantine_table(
                        [
                            dict(
                                file=name,
                                offset=base + cut,
                                error=f"corrupt input stream: {type(e).__name__}: {e}",
                                raw=pending[cut : cut + 200].decode("utf-8", "replace"),
                            )
                        ]
                    ),
                )
                return
            if not block:
                break
            if skip_at is not None:
                i = block.find(b"\n")
                if i < 0:
                    skipped += len(block)
                    continue
                yield too_long(skip_at, skipped + i)
                base, block, skip_at = skip_at + skipped + i + 1, block[i + 1 :], None
                if not block:
                    continue
            pending = pending + block if pending else block
            cut = pending.rfind(b"\n") + 1
            if cut == 0:
                if limit is not None and len(pending) > limit:
                    skip_at, skipped, pending = base, len(pending), b""
                continue  # a single line longer than a block: keep reading
            yield _parse_jsonl_block(spec, name, pending[:cut], base)
            base += cut
            pending = pending[cut:]
    if skip_at is not None:
        yield too_long(skip_at, skipped)
    elif pending.strip():
        yield _parse_jsonl_block(spec, name, pending, base)


def empty_records() -> pa.Table:
    return pa.table(
        {"id": pa.array([], pa.string()), "text": pa.array([], pa.string()), "source": pa.array([], pa.string())}
    )


def _line_bounds(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [len(buf)]])
    if starts[-1] >= len(buf):  # buffer ends with a newline
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _line_limit(spec: InputSpec) -> int | None:
    """Bytes beyond which a JSONL line cannot hold a text within ``max_chars`` plus a
    reasonable amount of metadata (checked before parsing, so it is never materialised)."""
    return None if spec.max_chars is None else 4 * spec.max_chars + (1 << 20)


def _parse_jsonl_block(spec: InputSpec, name: str, buf: bytes, base: int) -> ReadChunk:
    from pyarrow import json as pajson

    starts, ends = _line_bounds(buf)
    lens = ends - starts
    arr = np.frombuffer(buf, dtype=np.uint8)
    # blank lines: empty, or a lone "\r"
    last = arr[np.maximum(ends - 1, 0)] if len(buf) else np.zeros(0, np.uint8)
    blank = (lens == 0) | ((lens == 1) & (last == 13))
    # vectorised line checks before any parser sees the bytes: UTF-8, size, nesting depth
    bad_utf8 = invalid_utf8_rows(lines_array(buf, starts, ends))
    limit = _line_limit(spec)
    too_big = (lens > limit) if limit is not None else np.zeros(len(lens), bool)
    too_deep, depth = too_deep_lines(buf, starts, ends)
    bad = (bad_utf8 | too_big | too_deep) & ~blank
    qs: list[dict] = []
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            raw = buf[starts[i] : min(ends[i], starts[i] + 200)].decode("utf-8", "replace")
            if bad_utf8[i]:
                err = "undecodable bytes (not UTF-8)"
            elif too_big[i]:
                err = (
                    f"document too large: line of {int(lens[i]):,} bytes exceeds the bound of "
                    f"max_chars={spec.max_chars:,}"
                )
            else:
                err = f"JSON nested too deep: depth {int(depth[i]):,} > {MAX_JSON_DEPTH}"
            qs.append(dict(file=name, offset=base + int(starts[i]), error=err, raw=raw))
        # drop the bad lines (and their newline) from the buffer: join the runs between them
        bi = np.flatnonzero(bad)
        cuts = [0] + [x for i in bi.tolist() for x in (int(starts[i]), int(ends[i]) + 1)] + [len(buf) + 1]
        buf = b"".join(buf[cuts[k] : cuts[k + 1]] for k in range(0, len(cuts), 2))
        good = ~bad & ~blank
        new_len = np.where(bad, 0, lens + 1)
        new_starts = np.concatenate([[0], np.cumsum(new_len)[:-1]])
        offsets = base + starts[good]
        p_starts, p_ends = new_starts[good], new_starts[good] + lens[good]
    else:
        offsets = base + starts[~blank]
        p_starts, p_ends = starts[~blank], ends[~blank]
    q0 = quarantine_table(qs)
    if not len(offsets):
        return ReadChunk(empty_records(), q0)
    table = None
    try:
        table = pajson.read_json(
            pa.BufferReader(pa.py_buffer(buf)),
            # one block (the whole buffer): threads would only hand it to another core
            read_options=pajson.ReadOptions(block_size=max(len(buf) + 1, 1 << 20), use_threads=False),
            parse_options=pajson.ParseOptions(newlines_in_values=False),
        )
        if table.num_rows != len(offsets):
            table = None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        table = None
    chunk = _finish_table(spec, name, table, offsets) if table is not None else None
    if chunk is None:
        chunk = _parse_jsonl_slow(spec, name, buf, p_starts, p_ends, offsets)
    if qs:
        chunk.quarantine = (
            pa.concat_tables([q0, chunk.quarantine]).sort_by("offset") if chunk.quarantine.num_rows else q0
        )
    return chunk


_ID_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_null)


def _type_depth(t: pa.DataType) -> int:
    """Nesting levels of an Arrow type (a struct or list counts 1 per level)."""
    if t.num_fields == 0:
        return 0
    return 1 + max(_type_depth(t.field(i).type) for i in range(t.num_fields))


def _oversized(spec: InputSpec, col) -> np.ndarray | None:
    """Mask of texts longer than ``max_chars`` (None when none is)."""
    if spec.max_chars is None or len(col) == 0:
        return None
    # a text of at most max_chars bytes is within the bound: check characters only if needed
    blen = pc.binary_length(col)
    if (pc.max(blen).as_py() or 0) <= spec.max_chars:
        return None
    big = pc.fill_null(pc.greater(pc.utf8_length(col), spec.max_chars), False)
    mask = np.asarray(big.to_numpy(zero_copy_only=False), dtype=bool)
    return mask if mask.any() else None


def _too_large_entries(spec: InputSpec, name: str, col, offsets: np.ndarray, mask: np.ndarray) -> list[dict]:
    lens = pc.utf8_length(pc.filter(col, pa.array(mask))).to_pylist()
    return [
        dict(file=name, offset=int(o), error=f"document too large: {n:,} characters > max_chars={spec.max_chars:,}")
        for o, n in zip(offsets[mask].tolist(), lens)
    ]


def _finish_table(spec: InputSpec, name: str, table: pa.Table, offsets: np.ndarray) -> ReadChunk | None:
    """Validate the text column of a fast-parsed table; None means "use the slow path"."""
    tc = spec.text_column
    if tc not in table.column_names:
        qs = [dict(file=name, offset=int(o), error=f"missing required column {tc!r}") for o in offsets]
        return ReadChunk(empty_records(), quarantine_table(qs))
    col = table.column(tc)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type)):
        return None  # mixed or odd types: decide per line
    if spec.id_column in table.column_names and not any(f(table.column(spec.id_column).type) for f in _ID_TYPES):
        return None  # ids parsed as floats (integers >= 2**63) or objects: exact text per line
    if max((_type_depth(f.type) for f in table.schema), default=0) + 1 > MAX_JSON_DEPTH:
        return None  # some line nests deeper than Parquet can read back: find it per line
    qs: list[dict] = []
    if col.null_count:
        bad = np.asarray(col.is_null().to_numpy(zero_copy_only=False))
        qs += [dict(file=name, offset=int(o), error=f"missing required column {tc!r}") for o in offsets[bad]]
        table = table.filter(pa.array(~bad))
        offsets = offsets[~bad]
    big = _oversized(spec, table.column(tc))
    if big is not None:
        qs += _too_large_entries(spec, name, table.column(tc), offsets, big)
        table = table.filter(pa.array(~big))
        offsets = offsets[~big]
    if qs:
        qs.sort(key=lambda r: r["offset"])
    t = ensure_record_columns(
        table, file=name, offsets=offsets, source=spec.source, text_column=tc, id_column=spec.id_column
    )
    return ReadChunk(t, quarantine_table(qs))


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _json_depth(obj) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion limit)."""
    depth, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            depth = max(depth, d)
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            depth = max(depth, d)
            stack.extend((v, d + 1) for v in o)
    return depth


def _id_text(v):
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)  # ints of any size exactly; floats/bools as Python spells them


def _parse_jsonl_slow(spec, name, buf, starts, ends, offsets) -> ReadChunk:
    """Per-line parse of a block the fast parser refused: decides line by line."""
    rows: list[dict] = []
    offs: list[int] = []
    qs: list[dict] = []
    tc = spec.text_column
    idc = spec.id_column
    for s, e, off in zip(starts.tolist(), ends.tolist(), offsets.tolist()):
        raw = buf[s:e]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            qs.append(
                dict(
                    file=name,
                    offset=off,
                    error=f"undecodable bytes (not UTF-8): {err}",
                    raw=raw[:200].decode("utf-8", "replace"),
                )
            )
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            qs.append(dict(file=name, offset=off, error=f"invalid JSON: {err}", raw=line[:200]))
            continue
        except RecursionError:
            qs.append(dict(file=name, offset=off, error="JSON nested too deep", raw=line[:200]))
            continue
        if not isinstance(obj, dict):
            qs.append(
                dict(
                    file=name,
                    offset=off,
                    error=f"JSON line is a {type(obj).__name__}, expected an object",
                    raw=line[:200],
                )
            )
            continue
        if _SURROGATE.search(line):
            try:
                json.dumps(obj, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError as err:
                qs.append(
                    dict(
                        file=name,
                        offset=off,
                        error=f"lone surrogate escape (not encodable as UTF-8): {err}",
                        raw=line[:200],
                    )
                )
                continue
        d = _json_depth(obj)
        if d > MAX_JSON_DEPTH:
            qs.append(
                dict(
                    file=name, offset=off, error=f"JSON nested too deep: depth {d:,} > {MAX_JSON_DEPTH}", raw=line[:200]
                )
            )
            continue
        txt = obj.get(tc)
        if txt is None:
            qs.append(dict(file=name, offset=off, error=f"missing required column {tc!r}", raw=line[:200]))
            continue
        if not isinstance(txt, str):
            if isinstance(txt, (int, float, bool)):
                obj[tc] = str(txt)
            else:
                qs.append(
                    dict(
                        file=name,
                        offset=off,
                        error=f"column {tc!r} is a {type(txt).__name__}, expected a string",
                        raw=line[:200],
                    )
                )
                continue
        if spec.max_chars is not None and len(obj[tc]) > spec.max_chars:
            qs.append(
                dict(
                    file=name,
                    offset=off,
                    error=f"document too large: {len(obj[tc]):,} characters > max_chars={spec.max_chars:,}",
                )
            )
            continue
        if idc in obj:
            obj[idc] = _id_text(obj[idc])
        rows.append(obj)
        offs.append(off)
    if rows:
        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # fields with mixed types across lines (or integers beyond 64 bits): keep contract
            # columns typed, others as JSON strings
            keys = sorted({k for r in rows for k in r})
            cols = {}
            for k in keys:
                vals = [r.get(k) for r in rows]
                if k in (tc, idc, "source"):
                    cols[k] = pa.array([None if v is None else str(v) for v in vals], pa.string())
                else:
                    cols[k] = pa.array([None if v is None else json.dumps(v) for v in vals], pa.string())
            table = pa.table(cols)
        t = ensure_record_columns(
            table, file=name, offsets=np.asarray(offs), source=spec.source, text_column=tc, id_column=idc
        )
    else:
        t = empty_records()
    return ReadChunk(t, quarantine_table(qs))


# ---------------------------------------------------------------- Parquet


def _read_parquet(spec: InputSpec, path: str, name: str) -> Iterator[ReadChunk]:
    """Read a Parquet file row group by row group: a corrupt row group is quarantined as a
    whole (its first row, its row count) and the others are read; within a readable batch,
    rows with invalid UTF-8 strings are quarantined one by one."""
    import pyarrow.parquet as pq

    try:
        fh = _open_binary(path, spec)
        pf = pq.ParquetFile(fh)
    except Exception as e:
        yield ReadChunk(
            empty_records(), quarantine_table([dict(file=name, offset=0, error=f"not a readable Parquet file: {e}")])
        )
        return
    cols = pf.schema_arrow.names
    tc = spec.text_column
    if tc not in cols:
        yield ReadChunk(
            empty_records(),
            quarantine_table(
                [
                    dict(
                        file=name,
                        offset=0,
                        rows=pf.metadata.num_rows,
                        error=f"missing required column {tc!r}; the file has columns {cols}",
                    )
                ]
            ),
        )
        return
    row0 = 0
    for rg in range(pf.num_row_groups):
        n_rg = pf.metadata.row_group(rg).num_rows
        done = 0
        it = pf.iter_batches(batch_size=spec.batch_rows, row_groups=[rg])
        while True:
            try:
                batch = next(it)
            except StopIteration:
                break
            except Exception as e:  # corrupt page / truncated data in this row group
                yield ReadChunk(
                    empty_records(),
                    quarantine_table(
                        [
                            dict(
                                file=name,
                                offset=row0 + done,
                                rows=n_rg - done,
                                error=f"corrupt Parquet data in row group {rg}: {type(e).__name__}: {e}",
                            )
                        ]
                    ),
                )
                break
            t = pa.Table.from_batches([batch])
            offsets = np.arange(row0 + done, row0 + done + t.num_rows)
            done += t.num_rows
            yield _parquet_batch(spec, name, t, offsets)
        row0 += n_rg


def _parquet_batch(spec: InputSpec, name: str, t: pa.Table, offsets: np.ndarray) -> ReadChunk:
    tc = spec.text_column
    qs: list[dict] = []

    def drop(mask: np.ndarray, error: str) -> None:
        nonlocal t, offsets
        qs.extend(dict(file=name, offset=int(o), error=error) for o in offsets[mask])
        t = t.filter(pa.array(~mask))
        offsets = offsets[~mask]

    col = t.column(tc)
    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        bad = invalid_utf8_rows(col)
        if bad.any():
            drop(bad, f"undecodable bytes (not UTF-8) in column {tc!r}")
        col = t.column(tc)
        col = col.cast(pa.large_string() if pa.types.is_large_binary(col.type) else pa.string())
        t = t.set_column(t.column_names.index(tc), tc, col)
    elif not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        try:
            t = t.set_column(t.column_names.index(tc), tc, pc.cast(col, pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            drop(np.ones(t.num_rows, bool), f"column {tc!r} has type {col.type}, expected string")
            return ReadChunk(empty_records(), quarantine_table(qs))
    # strings anywhere in the row must be UTF-8 (the Parquet reader does not check)
    try:
        t.validate(full=True)
    except pa.ArrowInvalid:
        for c in t.column_names:
            bad = invalid_utf8_rows(t.column(c)) if not pa.types.is_binary(t.column(c).type) else None
            if bad is not None and bad.any():
                drop(bad, f"undecodable bytes (not UTF-8) in column {c!r}")
    col = t.column(tc)
    if col.null_count:
        drop(
            np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool),
            f"missing required column {tc!r} (null)",
        )
    big = _oversized(spec, t.column(tc))
    if big is not None:
        qs.extend(_too_large_entries(spec, name, t.column(tc), offsets, big))
        t = t.filter(pa.array(~big))
        offsets = offsets[~big]
    if t.column(tc).type == pa.large_string():
        t = t.set_column(t.column_names.index(tc), tc, pc.cast(t.column(tc), pa.string()))
    qs.sort(key=lambda r: r["offset"])
    return ReadChunk(
        ensure_record_columns(
            t, file=name, offsets=offsets, source=spec.source, text_column=tc, id_column=spec.id_column
        ),
        quarantine_table(qs),
    )


# ---------------------------------------------------------------- text and HTML folders


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8 (BOM tolerated); raise UnicodeDecodeError otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


#: deepest HTML element nesting extracted; main-content extraction is quadratic in depth
#: (a page of 40,000 unclosed <div> took 70 s), so deeper pages are quarantined
MAX_HTML_DEPTH = 1000


class DocumentTooComplexError(ValueError):
    """A document exceeds a per-document bound (size or nesting depth)."""


def _dom_depth(tree, limit: int) -> int:
    """Element nesting depth of a parsed page, stopping as soon as it exceeds ``limit``."""
    node, d, best = tree.document, 0, 0
    while node is not None:
        child = node.first_child
        if child is not None:
            node, d = child, d + 1
            if d > best:
                best = d
                if best > limit:
                    return best
            continue
        while node is not None and node.next is None:
            node, d = node.parent, d - 1
        if node is not None:
            node = node.next
    return best


def html_to_text(data: bytes, max_depth: int = MAX_HTML_DEPTH) -> str:
    """Main-content text of an HTML page with resiliparse (boilerplate such as nav removed).

    Pages nested deeper than ``max_depth`` elements raise :class:`DocumentTooComplexError`
    (extraction time grows with the square of the depth).
    """
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    html = bytes_to_str(data, detect_encoding(data))
    tree = HTMLTree.parse(html)
    if data.count(b"<") > max_depth:  # fewer tags than the bound cannot nest deeper
        depth = _dom_depth(tree, max_depth)
        if depth > max_depth:
            raise DocumentTooComplexError(f"HTML nested deeper than {max_depth} elements")
    return extract_plain_text(tree, main_content=True, alt_texts=False, links=False, list_bullets=True, noscript=False)


def _read_docs(spec: InputSpec, files: list[str], fmt: str, names: list[str]) -> Iterator[ReadChunk]:
    ids: list[str] = []
    texts: list[str] = []
    offsets: list[int] = []
    qs: list[dict] = []
    limit = _line_limit(spec)
    for path, name in zip(files, names):
        try:
            with _open_binary(path, spec) as fh:
                data = fh.read()
        except Exception as e:
            qs.append(dict(file=name, offset=0, error=f"cannot read: {type(e).__name__}: {e}"))
            continue
        if limit is not None and len(data) > limit:
            qs.append(
                dict(
                    file=name,
                    offset=0,
                    error=f"document too large: {len(data):,} bytes exceeds the bound of max_chars={spec.max_chars:,}",
                )
            )
            continue
        try:
            text = html_to_text(data) if fmt == "html" else decode_text(data)
        except UnicodeDecodeError as e:
            qs.append(
                dict(
                    file=name,
                    offset=e.start,
                    error=f"undecodable bytes (not UTF-8): {e}",
                    raw=data[:200].decode("utf-8", "replace"),
                )
            )
            continue
        except DocumentTooComplexError as e:
            qs.append(dict(file=name, offset=0, error=f"document too complex: {e}"))
            continue
        except Exception as e:
            qs.append(dict(file=name, offset=0, error=f"HTML extraction failed: {type(e).__name__}: {e}"))
            continue
        if spec.max_chars is not None and len(text) > spec.max_chars:
            qs.append(
                dict(
                    file=name,
                    offset=0,
                    error=f"document too large: {len(text):,} characters > max_chars={spec.max_chars:,}",
                )
            )
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
