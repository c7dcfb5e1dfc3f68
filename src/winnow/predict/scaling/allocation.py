"""Compute-optimal allocation from a fitted ``L(N, D) = E + A/N^α + B/D^β`` under ``C ≈ 6 N D``.

Minimising ``L`` on the constraint gives the closed form (Hoffmann et al. 2022, Appendix D.2)

    N*(C) = G (C/6)^{β/(α+β)},  D*(C) = G^{-1} (C/6)^{α/(α+β)},  G = (αA / (βB))^{1/(α+β)}.
"""

from __future__ import annotations

import numpy as np

#: Hoffmann et al. (2022), Approach 3, as published (rounded).
CHINCHILLA = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
#: Besiroglu et al. (2024), "Chinchilla Scaling: A replication attempt", refit of Approach 3.
BESIROGLU = {"E": 1.8172, "A": 482.01, "alpha": 0.3478, "B": 2085.43, "beta": 0.3658}
PRESETS = {"chinchilla": CHINCHILLA, "besiroglu": BESIROGLU}


def compute_optimal(params, compute, flops_per_param_token: float = 6.0) -> dict:
    """Loss-minimising ``N*`` (parameters) and ``D*`` (tokens) for a FLOP budget ``compute``.

    ``params``: a dict with ``A, alpha, B, beta`` (``E`` optional, used for the loss), a preset
    name (``chinchilla``, ``besiroglu``), or a ``(B, k)`` array of bootstrap draws in
    ``(E, A, alpha, B, beta)`` order (then every output is an array over draws). ``compute`` may
    be a scalar or an array.

    Example:
        >>> r = compute_optimal("chinchilla", 5.76e23)
        >>> f"{r['N']:.2e} {r['D']:.2e} {r['tokens_per_param']:.1f}"
        '3.22e+10 2.98e+12 92.6'
    """
    if isinstance(params, str):
        if params.lower() not in PRESETS:
            raise ValueError(f"params preset must be one of {sorted(PRESETS)}, got {params!r}")
        params = PRESETS[params.lower()]
    if isinstance(params, dict):
        missing = [k for k in ("A", "alpha", "B", "beta") if k not in params]
        if missing:
            raise ValueError(f"params is missing {missing} (needs a two-axis law: A, alpha, B, beta)")
        E = np.asarray(params.get("E", np.nan), dtype=float)
        A, a, B, b = (np.asarray(params[k], dtype=float) for k in ("A", "alpha", "B", "beta"))
    else:
        arr = np.asarray(params, dtype=float)
        if arr.shape[-1] != 5:
            raise ValueError(f"params array must have 5 columns (E, A, alpha, B, beta), got shape {arr.shape}")
        E, A, a, B, b = (arr[..., i] for i in range(5))
    C = np.asarray(compute, dtype=float)
    if np.any(C <= 0):
        raise ValueError("compute must be > 0 FLOPs")
    if np.any(a <= 0) or np.any(b <= 0) or np.any(A <= 0) or np.any(B <= 0):
        raise ValueError("alpha, beta, A and B must be > 0 for a finite optimum")
    if np.ndim(A) and np.ndim(C):
        C = C[..., None] if C.ndim == 1 else C
    G = (a * A / (b * B)) ** (1.0 / (a + b))
    base = C / flops_per_param_token
    N = G * base ** (b / (a + b))
    D = base ** (a / (a + b)) / G
    loss = E + A / N**a + B / D**b
    out = {
        "N": N,
        "D": D,
        "tokens_per_param": D / N,
        "loss": loss,
        "compute": C,
        "exponent_N": b / (a + b),
        "exponent_D": a / (a + b),
    }
    if all(np.ndim(v) == 0 for v in out.values()):
        out = {k: float(v) for k, v in out.items()}
    return out
