"""Pipeline YAML: load and validate, with errors that point at the bad key.

input: {path: "raw/*.jsonl.gz", format: jsonl}   # format inferred from the suffix if omitted
output: runs/demo                                # or {path: runs/demo, format: parquet, shard_rows: 100000}
executor: local                                  # or ray (any registered executor)
executor_options: {address: auto, cpus_per_task: 1}   # the executor's (ray: winnow.core.executors.options)
workers: 2
plugins: [mypkg.filters]                         # modules to import first: their @register_step steps
steps:
  - length: {min_words: 5}
  - mypkg.filters:MyFilter: {max_x: 3}           # a step class by dotted path works without plugins
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from winnow.core.io.readers import InputSpec
from winnow.core.pipeline.executor_registry import (
    executor_class,
    executor_names,
    takes_options,
    validate_executor_options,
)
from winnow.core.pipeline.registry import UnknownStepError, get_step_class
from winnow.errors import ConfigError  # defined there; importable from here too

#: the ``input:`` mapping: one model, :class:`winnow.core.io.readers.InputSpec` (kept under this name too)
InputConfig = InputSpec


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    format: Literal["parquet", "jsonl"] = "parquet"
    shard_rows: int = Field(1_000_000, gt=0)
    shard_bytes: int = Field(512 << 20, gt=0)


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: InputConfig
    output: OutputConfig
    steps: list[Any] = Field(default_factory=list)
    #: modules imported before the steps are built (steps register themselves with @register_step)
    plugins: list[str] = Field(default_factory=list)
    #: a registered executor's name (winnow.core.pipeline.executor_registry)
    executor: str = "local"
    #: executor settings, e.g. for ray: {address, num_cpus, cpus_per_task, batch_rows, object_store_memory, max_retries}
    executor_options: dict = Field(default_factory=dict)
    workers: int | None = Field(None, ge=1)
    seed: int = 0


def _fmt_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _explain(err: ValidationError, model: type[BaseModel], prefix: str) -> str:
    lines = []
    for e in err.errors():
        loc = e["loc"]
        where = _fmt_loc((prefix,) + tuple(loc) if prefix else tuple(loc))
        if e["type"] == "extra_forbidden":
            # find the model that owns this key to list its fields
            owner = model
            for part in loc[:-1]:
                f = owner.model_fields.get(part) if isinstance(part, str) else None
                ann = getattr(f, "annotation", None) if f else None
                if isinstance(ann, type) and issubclass(ann, BaseModel):
                    owner = ann
            valid = [n for n in owner.model_fields]
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{where}: unknown key{hint}; valid keys: {', '.join(valid)}")
        else:
            lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def build_step(spec: Any, index: int):
    """Build a step from ``{name: {args}}``, ``name`` or a Step instance."""
    from winnow.core.pipeline.step import Step

    if isinstance(spec, Step):
        return spec
    if isinstance(spec, str):
        name, args = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        name, args = next(iter(spec.items()))
        args = args or {}
        if not isinstance(args, dict):
            raise ConfigError(f"steps[{index}].{name}: arguments must be a mapping, got {args!r}")
    else:
        raise ConfigError(f"steps[{index}]: expected one `step_name: {{args}}` mapping, got {spec!r}")
    try:
        cls = get_step_class(name)
    except UnknownStepError as e:
        raise ConfigError(f"steps[{index}]: {e.args[0]}") from None
    try:
        return cls(**args)
    except ValidationError as e:
        raise ConfigError(_explain(e, cls, f"steps[{index}].{name}")) from None


def parse_config(data: dict) -> tuple[PipelineConfig, list]:
    """Validate a config mapping; return it and the built steps."""
    if not isinstance(data, dict):
        raise ConfigError("a pipeline file must be a mapping with input, output and steps")
    data = dict(data)
    if isinstance(data.get("input"), str):
        data["input"] = {"path": data["input"]}
    if isinstance(data.get("output"), str):
        data["output"] = {"path": data["output"]}
    try:
        cfg = PipelineConfig(**data)
    except ValidationError as e:
        raise ConfigError(_explain(e, PipelineConfig, "")) from None
    try:
        executor_class(cfg.executor)
    except ValueError as e:
        raise ConfigError(f"executor: {e}") from None
    try:
        if cfg.executor_options:
            _check_executor_options(cfg.executor, cfg.executor_options)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    import importlib

    for i, mod in enumerate(cfg.plugins):
        try:
            importlib.import_module(mod)
        except ImportError as e:
            raise ConfigError(f"plugins[{i}]: cannot import {mod!r} ({e})") from None
    steps = [build_step(s, i) for i, s in enumerate(cfg.steps)]
    return cfg, steps


def _check_executor_options(executor: str, options: dict) -> None:
    """Validate a YAML's ``executor_options``: as its executor's, or, when that executor takes
    none (a YAML for ray, run locally by default), as those of an executor that takes some."""
    if takes_options(executor):
        validate_executor_options(executor, options)
        return
    takers = [n for n in executor_names() if takes_options(n)]
    if not takers:
        validate_executor_options(executor, options)  # raises: no executor takes options
    errors = []
    for name in takers:
        try:
            validate_executor_options(name, options)
            return
        except ValueError as e:
            errors.append(str(e))
    raise ValueError(errors[0])


def load_config(path: str) -> tuple[PipelineConfig, list]:
    """Read and validate a pipeline YAML file."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"pipeline file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    try:
        return parse_config(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
