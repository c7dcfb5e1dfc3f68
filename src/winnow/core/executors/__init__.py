"""Executors: local (process pool, the default) and ray (Ray Data)."""
