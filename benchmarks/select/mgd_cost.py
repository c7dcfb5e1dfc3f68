"""Fit time and peak memory per selection strategy on the noisy-label task (issue 18's table).

Each strategy is fitted in a fresh process (so ``ru_maxrss`` is its own); memory is the peak RSS
during ``fit`` minus the RSS after the task is built (imports and data included in the baseline).

Run: PYTHONPATH=src .venv/bin/python benchmarks/select/mgd_cost.py
"""
from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, time, torch
torch.set_num_threads(1)
from winnow.prove.bench.tasks import NoisyLabelsTask
from winnow.select import get_selector
task = NoisyLabelsTask(dataset="digits", noise=0.3, seed=0)
sel = get_selector({method!r}, **{params!r})
import winnow.select.attribution.metagrad, winnow.select.attribution.api  # imports outside the measure
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
sel.fit(task.pool, task.target)
print(json.dumps({{"fit_seconds": time.perf_counter() - t,
                  "peak_extra_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}}))
"""

STRATEGIES = [("random", "random", {}), ("mgd", "mgd", {"n_steps": 3, "steps": 100}),
              ("trak", "influence", {"method": "trak", "n_models": 3}),
              ("influence", "influence", {"method": "influence", "damping": 0.001}), ("el2n", "el2n", {"keep": "easy"})]


def main():
    out = {}
    for label, method, params in STRATEGIES:
        r = subprocess.run([sys.executable, "-c", CHILD.format(method=method, params=params)],
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(r.stderr)
        out[label] = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{label:<10} fit {out[label]['fit_seconds']:7.2f}s  peak +{out[label]['peak_extra_mib']:6.1f} MiB",
              flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
