"""Source mixtures (RegMix-style): predict the best mixture of sources from small proxy runs, and prove it.

See :mod:`winnow.prove.mix.run` for the method and the ``mix.json`` schema (the weights file the
export step consumes). CLI: ``winnow mix MIX.yaml``.

Example:
    >>> from winnow.prove.mix import parse_objective
    >>> parse_objective("docs", ["docs", "german"])
    {'docs': 1.0}
"""

from winnow.prove.mix.run import (
    SCHEMA,
    MixConfigError,
    MixData,
    fit_regressions,
    load_mix_config,
    parse_objective,
    plot_mix,
    run_mix,
    sample_mixtures,
)

__all__ = [
    "SCHEMA",
    "MixConfigError",
    "MixData",
    "fit_regressions",
    "load_mix_config",
    "parse_objective",
    "plot_mix",
    "run_mix",
    "sample_mixtures",
]
