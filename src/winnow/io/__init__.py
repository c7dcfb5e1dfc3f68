"""Readers and writers: JSONL (.gz/.zst), Parquet, text folders, HTML; Parquet/JSONL shard writers."""
from winnow.io.readers import InputSpec, ReadChunk, plan_tasks, read_task
from winnow.io.writers import ShardWriter, read_dataset_table

__all__ = ["InputSpec", "ReadChunk", "plan_tasks", "read_task", "ShardWriter", "read_dataset_table"]
