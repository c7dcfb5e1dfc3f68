"""MNIST digits from BIG-bench's ``mnist_ascii`` task, read offline from the bigbench 1.0.0 sdist
(``pip download --no-deps bigbench==1.0.0`` into benchmarks/_work/; the tarball is read with
tarfile, never installed). The task draws 70,000 digits in two styles: 35,038 as full 28 x 28
binary art ('B' = ink) -- used here, i.e. binarised 28x28 MNIST -- and 34,962 as 12 x 28 grey-ramp
art (skipped). Cached as a pickle-free .npz."""

from __future__ import annotations

import json
import os
import tarfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "..", "_work")
MEMBER = "bigbench-1.0.0/bigbench/benchmark_tasks/mnist_ascii/task.json"


def load_mnist_ascii(cache: str = os.path.join(WORK, "mnist_ascii.npz")) -> tuple[np.ndarray, np.ndarray]:
    """Return ``X [35038, 784] float32 in {0, 1}`` and ``y [35038] int64``."""
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=False)
        return z["X"], z["y"]
    tar = os.path.join(WORK, "bigbench-1.0.0.tar.gz")
    if not os.path.exists(tar):
        raise FileNotFoundError(f"{tar} missing: pip download --no-deps bigbench==1.0.0 -d benchmarks/_work")
    with tarfile.open(tar) as t:
        task = json.load(t.extractfile(MEMBER))
    X, y = [], []
    for ex in task["examples"]:
        rows = [r for r in ex["input"].split("\n") if r]
        if len(rows) != 28 or any(len(r) != 28 for r in rows):
            continue
        X.append(np.frombuffer("".join(rows).encode("latin-1"), np.uint8) == ord("B"))
        y.append(int(max(ex["target_scores"], key=ex["target_scores"].get)))
    X, y = np.stack(X).astype(np.float32), np.array(y, np.int64)
    np.savez_compressed(cache, X=X, y=y)
    return X, y


if __name__ == "__main__":
    X, y = load_mnist_ascii()
    print(X.shape, np.bincount(y), float(X.mean()))
