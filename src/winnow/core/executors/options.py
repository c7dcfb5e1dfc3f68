"""Executor options (``executor_options:`` in the pipeline YAML, ``--ray-*`` flags on the CLI).

Each executor declares its options as a pydantic model (its ``Options`` class attribute), as
steps declare theirs; they are validated without importing Ray, so a bad key fails at
config-load time with a message that names it.

Example:
    >>> o = RayOptions(cpus_per_task=2, object_store_memory="2GB").model_dump()
    >>> o["cpus_per_task"], o["object_store_memory"], o["max_retries"], o["address"]
    (2.0, 2000000000, 3, None)
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}


def parse_bytes(value) -> int:
    """``2GB`` / ``512MiB`` / ``1e9`` / ``1000000`` → bytes (int)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 2GB or a number of bytes")
    if isinstance(value, (int, float)):
        n = int(value)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(f"cannot parse size {value!r}; use e.g. 2GB, 512MiB or a number of bytes")
        n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n <= 0:
        raise ValueError("size must be positive")
    return n


class ExecutorOptions(BaseModel):
    """Options of an executor: none by default (the local executor's); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class RayOptions(ExecutorOptions):
    """Options of the Ray executor.

    Attributes:
        address: an existing cluster (``auto``, ``ray://head:10001``, ``head:6379``); ``None``
            starts a local Ray (stopped again when the run ends).
        num_cpus: CPUs of a locally started Ray (default: all of this machine's).
        cpus_per_task: CPUs reserved by each read+map task and by the reduce of a global step.
        batch_rows: rows per Arrow batch handed to the steps (default: ``input.batch_rows``).
        object_store_memory: object store size of a locally started Ray (``2GB``; default: Ray's).
        max_retries: times a task whose worker died is retried before the run fails.
        reduce_partitions: tasks per phase of a global step's partitioned reduce (default: the
            cluster's CPUs over ``cpus_per_task``); decisions do not depend on it.
    """

    address: str | None = None
    num_cpus: int | None = Field(None, gt=0)
    cpus_per_task: float = Field(1.0, gt=0)
    batch_rows: int | None = Field(None, gt=0)
    object_store_memory: int | None = None
    max_retries: int = Field(3, ge=0)
    reduce_partitions: int | None = Field(None, gt=0)

    @field_validator("object_store_memory", mode="before")
    @classmethod
    def _size(cls, v):
        return None if v is None else parse_bytes(v)

    @model_validator(mode="after")
    def _local_sizes_without_address(self):
        if self.address and (self.num_cpus or self.object_store_memory):
            raise ValueError(
                "num_cpus and object_store_memory size a local Ray; they cannot be set "
                "together with address (the cluster's own apply)"
            )
        return self
