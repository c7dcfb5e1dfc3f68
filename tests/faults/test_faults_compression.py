"""Issue 19, item 9: a truncated or corrupt compressed file keeps every line decoded before
the fault (small .gz/.zst files used to lose all their intact lines; .bz2/.xz the whole file)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib

import pytest
import zstandard
from _faults import good_rows, jsonl_bytes, quarantine_rows, run_ids

from winnow import Pipeline

COMPRESS = {
    "gz": lambda b: gzip.compress(b, 6),
    "zst": lambda b: zstandard.ZstdCompressor().compress(b),
    "bz2": lambda b: bz2.compress(b, 1),
    "xz": lzma.compress,
}  # bz2: 100 kB blocks
DECOMP = {
    "gz": lambda: zlib.decompressobj(wbits=31),
    "zst": lambda: zstandard.ZstdDecompressor().decompressobj(),
    "bz2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}


def _decodable_prefix(ext: str, data: bytes) -> bytes:
    """Independent ground truth: what the standard decoder yields, fed one byte at a time,
    before it stops on the fault."""
    d, out = DECOMP[ext](), bytearray()
    for i in range(len(data)):
        try:
            out += d.decompress(data[i : i + 1])
        except Exception:
            break
    return bytes(out)


def _intact_ids(rows, plain: bytes, prefix: bytes) -> list[str]:
    """Rows whose whole line (with its newline) is in the decodable prefix, byte-identical."""
    n = 0
    while n < min(len(plain), len(prefix)) and plain[n] == prefix[n]:
        n += 1
    ids, pos = [], 0
    for r, ln in zip(rows, jsonl_bytes(rows)):
        pos += len(ln) + 1
        if pos <= n:
            ids.append(r["id"])
    return ids


@pytest.mark.parametrize("ext", sorted(COMPRESS))
@pytest.mark.parametrize("fault", ["truncated", "corrupt"])
def test_lines_before_the_fault_are_kept(tmp_path, real_docs, ext, fault):
    rows = good_rows(real_docs, 1000)
    plain = b"".join(ln + b"\n" for ln in jsonl_bytes(rows))
    data = COMPRESS[ext](plain)
    if fault == "truncated":
        data = data[: int(len(data) * 0.8)]
    else:  # garbage in the last fifth of the stream
        k = int(len(data) * 0.8)
        data = data[:k] + bytes(b ^ 0x5A for b in data[k : k + 64]) + data[k + 64 :]
    p = tmp_path / f"part.jsonl.{ext}"
    p.write_bytes(data)
    intact = _intact_ids(rows, plain, _decodable_prefix(ext, data))
    assert len(intact) > 0
    res = Pipeline([]).run(str(p), str(tmp_path / "run"), workers=1)
    kept = run_ids(res.path)
    assert set(intact) <= set(kept)  # every line decoded before the fault
    assert kept == [r["id"] for r in rows[: len(kept)]]  # and nothing else than the file's own lines, in order
    q = quarantine_rows(res.path)
    assert any(r["file"] == str(p) and "corrupt input stream" in r["error"] for r in q)
    t = res.manifest["totals"]
    assert res.manifest["checks"]["ok"] and t["rows_in"] == t["rows_kept"] + t["rows_quarantined"]
