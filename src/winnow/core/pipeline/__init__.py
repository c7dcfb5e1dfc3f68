"""Step protocols, Pipeline, config validation, manifest and accounting."""

from winnow.core.pipeline.config import ConfigError, load_config, parse_config
from winnow.core.pipeline.pipeline import Pipeline, RunResult, run_yaml
from winnow.core.pipeline.step import GlobalStep, MapStep, Step, reasons_from_masks

__all__ = [
    "ConfigError",
    "GlobalStep",
    "MapStep",
    "Pipeline",
    "RunResult",
    "Step",
    "load_config",
    "parse_config",
    "reasons_from_masks",
    "run_yaml",
]
