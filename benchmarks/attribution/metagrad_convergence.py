"""How far the LDS recipe trains (issue 18): train loss / accuracy and target margins of bench_metagrad.py's
recipe (GELU MLP, full-batch SGD-m lr 0.05, L2 1e-4) at 100 and 500 steps on breast_cancer and digits.

Run: PYTHONPATH=src .venv/bin/python benchmarks/attribution/metagrad_convergence.py
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_metagrad import load, recipe_for
from winnow.attribution import ClassificationTask

torch.set_num_threads(1)
t = ClassificationTask()
for data, n in (("breast_cancer", 400), ("digits", 1200)):
    tr, te = load(data, n, 60)
    k = int(tr[1].max()) + 1
    for steps in (100, 500):
        a = argparse.Namespace(
            act="gelu",
            hidden=128,
            momentum=0.9,
            opt="sgd",
            lr=0.05,
            l2=1e-4,
            steps=steps,
            batch_size=None,
            dtype="float32",
        )
        m = recipe_for(tr[0].shape[1], k, a).train(tr)
        with torch.no_grad():
            o = m(tr[0])
            mt = t.output(m(te[0]), te[1])
        print(
            data,
            steps,
            "train loss %.4f acc %.3f" % (float(t.loss(o, tr[1]).mean()), float((o.argmax(1) == tr[1]).float().mean())),
            "target margin median %.1f min %.1f max %.1f" % (mt.median(), mt.min(), mt.max()),
            flush=True,
        )
