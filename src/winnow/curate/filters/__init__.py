"""Curation filters as map steps (length, language, Gopher, C4, FineWeb, PII, URL)."""
