"""Scaling laws: fit, extrapolate with uncertainty, allocate compute, check proxy transfer."""
