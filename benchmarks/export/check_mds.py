"""Read a winnow MDS export back with MosaicML ``streaming`` (runs in benchmarks/.venv-export).

    benchmarks/.venv-export/bin/python benchmarks/export/check_mds.py OUT/train BIN_EXPORT_DIR

1. ``streaming.LocalDataset`` over the folder: every sample's ``tokens`` equals the matching
   ``seq_len`` window of the same export written as ``bin`` (the reference stream);
2. the same samples written again by ``streaming.MDSWriter`` give byte-identical shards and index.
"""

import json
import os
import sys
import tempfile

import numpy as np
from streaming import LocalDataset, MDSWriter


def main() -> None:
    mds_dir, bin_dir = sys.argv[1], sys.argv[2]
    man = json.load(open(os.path.join(bin_dir, "manifest.json")))
    ref = np.concatenate(
        [np.fromfile(os.path.join(bin_dir, s["file"]), dtype=man["dtype"]) for s in man["splits"]["train"]["shards"]]
    )
    idx = json.load(open(os.path.join(mds_dir, "index.json")))
    enc = idx["shards"][0]["column_encodings"][0]
    L = int(enc.split(":")[-1])
    ds = LocalDataset(mds_dir)
    n = len(ds)
    assert n == len(ref) // L, (n, len(ref) // L)
    for i in range(n):
        assert np.array_equal(ds[i]["tokens"], ref[i * L : (i + 1) * L]), i
    print(f"streaming.LocalDataset read {n} samples of {L} tokens, equal to the bin stream")
    with tempfile.TemporaryDirectory() as tmp:
        with MDSWriter(out=tmp, columns={"tokens": enc}, size_limit=idx["shards"][0]["size_limit"]) as w:
            for i in range(n):
                w.write({"tokens": ref[i * L : (i + 1) * L]})
        names = sorted(os.listdir(tmp))
        assert names == sorted(os.listdir(mds_dir)), (names, sorted(os.listdir(mds_dir)))
        for f in names:
            a, b = open(os.path.join(tmp, f), "rb").read(), open(os.path.join(mds_dir, f), "rb").read()
            assert a == b, f"{f} differs from streaming.MDSWriter's"
    print(f"byte-identical to streaming.MDSWriter: {len(names)} files")


if __name__ == "__main__":
    main()
