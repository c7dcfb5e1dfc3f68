"""winnow.core: records, text, memory, io, pipeline, executors, datasets (the bottom layer)."""
