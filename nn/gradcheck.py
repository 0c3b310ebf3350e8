"""Central-difference gradient checks in float64 (used by every test that checks a backward pass)."""
import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """d f / d x by central differences, (f(x + h e_i) - f(x - h e_i)) / 2h for every entry i (Eq. (C1)).

    f: a function of no arguments returning a scalar and reading x, which is perturbed in place and
    restored. x must be float64: in float32 the differences drown in rounding.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks run in float64, got {x.dtype}")
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        saved = flat_x[i]
        flat_x[i] = saved + h
        f_plus = f()
        flat_x[i] = saved - h
        f_minus = f()
        flat_x[i] = saved
        flat_grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic, numeric, tiny=1e-12):
    """|a - n| / max(|a| + |n|, tiny), with |.| the Euclidean norm over the whole array (Eq. (C2)).

    A norm, not an entrywise maximum, so that entries whose true gradient is 0 (where the finite
    difference is pure rounding) cannot dominate; tiny only guards the 0 / 0 case.
    """
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.linalg.norm(analytic - numeric) / max(np.linalg.norm(analytic) + np.linalg.norm(numeric), tiny))
