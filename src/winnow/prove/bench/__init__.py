"""DataComp-style benchmark harness: which selection strategy wins on your budget, and by how much.

See :mod:`winnow.prove.bench.harness` for the config and the ``bench.json`` schema, and
:mod:`winnow.prove.bench.tasks` for the two bundled tasks (noisy-label classification and
target-domain language modelling).

Example:
    >>> from winnow.prove.bench import run_bench
    >>> res = run_bench("examples/bench_noisy_labels.yaml", output="runs/bench_noisy")   # doctest: +SKIP
"""

from winnow.prove.bench.harness import (
    BenchConfigError,
    format_eval_table,
    format_table,
    load_config,
    markdown_table,
    mean_ci,
    run_bench,
    write_outputs,
)
from winnow.prove.bench.tasks import LMTask, NoisyLabelsTask, UserLMTask, build_task

__all__ = [
    "BenchConfigError",
    "format_eval_table",
    "format_table",
    "UserLMTask",
    "markdown_table",
    "load_config",
    "mean_ci",
    "run_bench",
    "write_outputs",
    "LMTask",
    "NoisyLabelsTask",
    "build_task",
]
