"""Readers and writers: JSONL (.gz/.zst), Parquet, text folders, HTML; Parquet/JSONL shard writers."""

from winnow.core.io.readers import InputSpec, ReadChunk, plan_tasks, read_task
from winnow.core.io.writers import ShardWriter, read_dataset_table

__all__ = ["InputSpec", "ReadChunk", "plan_tasks", "read_task", "ShardWriter", "read_dataset_table"]
