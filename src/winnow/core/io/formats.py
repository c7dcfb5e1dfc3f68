"""More input formats: CSV / TSV, Arrow IPC (``.arrow`` / ``.feather``, and Hugging Face
``Dataset.save_to_disk`` folders), and WARC / WET (Common Crawl).

Each reader yields :class:`~winnow.core.io.readers.ReadChunk` objects like the JSONL and Parquet
readers: good records in the record contract plus a quarantine table (file, offset, error).

* **CSV / TSV** (``pyarrow.csv``, streamed): the text column is ``input.text_column``; a row with
  the wrong number of fields is quarantined with its line number, the rest of the file is kept.
* **Arrow IPC**: file or stream format, read batch by batch. A folder written by HF
  ``Dataset.save_to_disk`` (``state.json`` + ``data-*.arrow``) is recognised by its
  ``state.json`` and read as those shards, in order.
* **WARC / WET** (FastWARC; ``.warc``, ``.warc.gz``, ``.warc.wet.gz``): ``response`` records with
  an HTML (or plain text) body become documents — HTML through the same main-content
  extraction as the HTML reader — and ``conversion`` records (WET) are plain text already. The id
  is the ``WARC-Record-ID``; ``url`` and ``warc_date`` columns are added; the offset is the
  record's byte position. Requests, metadata and non-text responses are not documents and are
  counted in nothing; a record whose body cannot be decoded is quarantined.

Example:
    >>> sorted(FORMAT_SUFFIXES)[:3]
    ['.arrow', '.csv', '.feather']
"""

from __future__ import annotations

import json
import posixpath
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from winnow.core.records import empty_quarantine, ensure_record_columns, quarantine_table

#: file suffixes of the formats of this module
FORMAT_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".warc": "warc",
    ".wet": "warc",
}
#: formats read by this module (one task per file)
FORMATS = ("csv", "tsv", "arrow", "warc")


def hf_dataset_files(fs, folder: str) -> list[str] | None:
    """The Arrow shards of a ``Dataset.save_to_disk`` folder, in order (None if it is not one)."""
    state = posixpath.join(folder, "state.json")
    if not fs.exists(state):
        return None
    try:
        with fs.open(state, "rb") as fh:
            files = [f["filename"] for f in json.load(fh).get("_data_files", [])]
    except (ValueError, KeyError, TypeError):
        return None
    return [posixpath.join(folder, f) for f in files] or None


def read_format(spec, path: str, fmt: str, name: str, open_binary) -> Iterator:
    """Read one file of a format of this module (``open_binary(path, spec)`` opens it decompressed)."""
    if fmt in ("csv", "tsv"):
        yield from _read_csv(spec, path, name, "\t" if fmt == "tsv" else ",", open_binary)
    elif fmt == "arrow":
        yield from _read_arrow(spec, path, name, open_binary)
    elif fmt == "warc":
        yield from _read_warc(spec, path, name)
    else:  # pragma: no cover - guarded by the planner
        raise ValueError(f"unknown format {fmt}")


def _chunk(spec, name: str, t: pa.Table, offsets: np.ndarray, qs: list[dict]):
    from winnow.core.io.readers import ReadChunk, empty_records

    tc = spec.text_column
    q = quarantine_table(qs) if qs else empty_quarantine()
    if t.num_rows == 0:
        return ReadChunk(empty_records(), q)
    col = t.column(tc)
    if not pa.types.is_string(col.type):
        try:
            t = t.set_column(t.column_names.index(tc), tc, pc.cast(col, pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = quarantine_table(
                [
                    dict(
                        file=name,
                        offset=int(offsets[0]),
                        rows=t.num_rows,
                        error=f"column {tc!r} has type {col.type}, expected text",
                    )
                ]
            )
            return ReadChunk(empty_records(), pa.concat_tables([q, bad]))
        col = t.column(tc)
    if col.null_count:
        bad = np.asarray(col.is_null().to_numpy(zero_copy_only=False))
        q = pa.concat_tables(
            [
                q,
                quarantine_table(
                    [dict(file=name, offset=int(o), error=f"missing text column {tc!r}") for o in offsets[bad]]
                ),
            ]
        )
        t, offsets = t.filter(pa.array(~bad)), offsets[~bad]
    return ReadChunk(
        ensure_record_columns(
            t, file=name, offsets=offsets, source=spec.source, text_column=tc, id_column=spec.id_column
        ),
        q,
    )


def _missing_column(spec, name: str, cols: list[str], rows: int = 1):
    from winnow.core.io.readers import ReadChunk, empty_records

    return ReadChunk(
        empty_records(),
        quarantine_table(
            [
                dict(
                    file=name,
                    offset=0,
                    rows=max(rows, 1),
                    error=f"missing required column {spec.text_column!r}; the file has columns {cols}",
                )
            ]
        ),
    )


def _read_csv(spec, path: str, name: str, delimiter: str, open_binary) -> Iterator:
    import pyarrow.csv as pacsv

    bad: list[dict] = []

    def on_invalid(row) -> str:
        bad.append(
            dict(
                file=name,
                offset=int(row.number or -1),
                error=f"CSV row has {row.actual_columns} fields, expected {row.expected_columns}",
                raw=row.text,
            )
        )
        return "skip"

    row0 = 0
    with open_binary(path, spec) as fh:
        try:
            reader = pacsv.open_csv(
                fh,
                read_options=pacsv.ReadOptions(block_size=8 << 20),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={spec.text_column: pa.string(), spec.id_column: pa.string()}
                ),
            )
        except pa.ArrowInvalid as e:
            from winnow.core.io.readers import ReadChunk, empty_records

            yield ReadChunk(
                empty_records(), quarantine_table([dict(file=name, offset=0, error=f"not a readable CSV: {e}")])
            )
            return
        cols = reader.schema.names
        if spec.text_column not in cols:
            yield _missing_column(spec, name, cols)
            return
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as e:  # e.g. invalid UTF-8 in a block: the rest of the file
                bad.append(dict(file=name, offset=row0, error=f"unreadable CSV data: {e}"))
                break
            t = pa.Table.from_batches([batch])
            offsets = np.arange(row0, row0 + t.num_rows)
            row0 += t.num_rows
            qs, bad[:] = list(bad), []
            yield _chunk(spec, name, t, offsets, qs)
    if bad:
        yield _chunk(spec, name, pa.table({spec.text_column: pa.array([], pa.string())}), np.zeros(0, np.int64), bad)


def _read_arrow(spec, path: str, name: str, open_binary) -> Iterator:
    import pyarrow.ipc as ipc

    from winnow.core.io.readers import ReadChunk, empty_records

    with open_binary(path, spec) as fh:
        data = fh.read()
    buf = pa.py_buffer(data)
    try:
        try:
            reader = ipc.open_file(buf)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
            schema = reader.schema
        except pa.ArrowInvalid:
            reader = ipc.open_stream(buf)  # HF datasets write the stream format
            batches, schema = iter(reader), reader.schema
    except pa.ArrowInvalid as e:
        yield ReadChunk(
            empty_records(), quarantine_table([dict(file=name, offset=0, error=f"not a readable Arrow file: {e}")])
        )
        return
    if spec.text_column not in schema.names:
        yield _missing_column(spec, name, schema.names)
        return
    row0 = 0
    try:
        for b in batches:
            t = pa.Table.from_batches([b])
            offsets = np.arange(row0, row0 + t.num_rows)
            row0 += t.num_rows
            yield _chunk(spec, name, t, offsets, [])
    except (pa.ArrowInvalid, OSError) as e:
        yield ReadChunk(
            empty_records(), quarantine_table([dict(file=name, offset=row0, error=f"corrupt Arrow data: {e}")])
        )


def _read_warc(spec, path: str, name: str) -> Iterator:
    import fsspec
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from winnow.core.io.readers import ReadChunk, decode_text, html_to_text

    ids, texts, urls, dates, offs, qs = [], [], [], [], [], []

    def flush():
        if not texts:
            return ReadChunk(*_empty(qs))
        t = pa.table(
            {
                "id": pa.array(ids, pa.string()),
                "text": pa.array(texts, pa.string()),
                "url": pa.array(urls, pa.string()),
                "warc_date": pa.array(dates, pa.string()),
            }
        )
        return ReadChunk(
            ensure_record_columns(t, file=name, offsets=offs, source=spec.source or "warc"),
            quarantine_table(qs) if qs else empty_quarantine(),
        )

    with fsspec.open(path, "rb", **(spec.storage_options or {})) as fh:
        it = ArchiveIterator(fh, record_types=WarcRecordType.response | WarcRecordType.conversion, parse_http=True)
        try:
            for rec in it:
                pos = int(rec.stream_pos)
                body = rec.reader.read()
                h = rec.headers
                try:
                    if rec.record_type == WarcRecordType.conversion:
                        text = decode_text(body)
                    else:
                        ctype = (rec.http_headers.get("Content-Type", "") if rec.http_headers else "").lower()
                        if "html" in ctype or not ctype:
                            text = html_to_text(body)
                        elif ctype.startswith("text/"):
                            text = decode_text(body)
                        else:
                            continue  # images, PDFs...: not text documents
                except Exception as e:  # noqa: BLE001 - any extraction failure is this record's
                    qs.append(
                        dict(
                            file=name,
                            offset=pos,
                            error=f"WARC record body: {type(e).__name__}: {e}",
                            raw=body[:200].decode("utf-8", "replace"),
                        )
                    )
                    continue
                ids.append(h.get("WARC-Record-ID", "").strip("<>") or f"{name}:{pos}")
                texts.append(text)
                urls.append(h.get("WARC-Target-URI"))
                dates.append(h.get("WARC-Date"))
                offs.append(pos)
                if len(texts) >= spec.batch_rows:
                    yield flush()
                    ids, texts, urls, dates, offs, qs = [], [], [], [], [], []
        except Exception as e:  # noqa: BLE001 - a corrupt archive: keep what was read before it
            qs.append(dict(file=name, offset=int(offs[-1]) if offs else 0, error=f"corrupt WARC data: {e}"))
    yield flush()


def _empty(qs):
    from winnow.core.io.readers import empty_records

    return empty_records(), quarantine_table(qs) if qs else empty_quarantine()
