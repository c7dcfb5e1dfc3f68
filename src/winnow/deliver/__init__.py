"""Deliver: turn a curated, selected corpus into what a training run reads (``winnow.deliver.export``)."""
