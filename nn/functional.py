"""Elementwise maps shared by the layers and the densities, each safe for inputs of any size.

The derivations are in derivations/backprop.md.
"""
import numpy as np


FLOAT32_TAIL = 40.0


def exp_neg_abs(x, out=None):
    """e^{-|x|}, the one exponential of softplus (B4) and sigmoid (B5): exp_neg of |x|, so in float32 exactly 0 where
    |x| >= 40 (backprop.md, Eq. (B5b)). With out (which may be x) the result is written there."""
    x = np.asarray(x)
    out = np.abs(x, out=np.empty(x.shape, np.result_type(x, 1.0)) if out is None else out)
    return exp_neg(out, out=out)


def exp_neg(s, out=None):
    """e^{-s} for s >= 0; in float32 exactly 0 where s >= 40 (backprop.md, Eq. (B5b)). out may be s itself.

    Below 2^-126 (1.2e-38, e^{-87.3}) float32 numbers are subnormal, and x86 arithmetic on them is tens of times
    slower: a trained decoder has logits far out in the tails, and its gradients and Adam's moments filled with
    such numbers made a training step 1.6 times slower. e^{-40} = 4.2e-18 is below float32's resolution of 1 and of
    any sum of log-probabilities it enters, and the smallest square Adam forms from it, e^{-80} = 1.8e-35, is still
    a normal number. float64 keeps every tail: its checks need no flush.
    """
    if s.dtype == np.float32:
        inside = s < FLOAT32_TAIL
        out = np.minimum(s, FLOAT32_TAIL, out=out)     # e^{-s} is never computed below e^{-40}
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.multiply(out, inside, out=out)
        return out
    out = np.negative(s, out=out)
    return np.exp(out, out=out)


def softplus(x, out=None):
    """softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^{-|x|}) (backprop.md, Eq. (B4)).

    The rewrite never exponentiates a positive number, so it is finite for every finite x. In float32 it is
    exactly max(x, 0) where |x| >= 40 (exp_neg_abs). It is also about four times faster than np.logaddexp(0, x).
    With out (which may be x itself) the result is written there, and no other array of x's size is made but
    max(x, 0) (and, in float32, one of booleans).
    """
    positive_part = np.maximum(x, 0)
    out = exp_neg_abs(x, out=out)       # x is not read after this line, so out may be x
    np.log1p(out, out=out)
    out += positive_part
    return out


def sigmoid(x):
    """sigmoid(x) = 1 / (1 + e^{-x}) = d softplus(x) / dx (backprop.md, Eq. (B5)).

    Computed as e^{min(x, 0)} / (1 + e^{-|x|}): multiply the top and bottom of 1 / (1 + e^{-x}) by e^x
    when x < 0. No exponent is positive, so nothing overflows, and both tails keep their relative
    precision (in float32 down to x = -40, below which it is exactly 0: exp_neg_abs). The top is e^{-|x|} where
    x < 0 and 1 where x >= 0 (where e^{-|x|} <= 1), so max(e^{-|x|}, [x >= 0]): one exponential.
    """
    e = exp_neg_abs(x)
    top = np.maximum(e, np.greater_equal(x, 0).astype(e.dtype))
    e += 1
    return top / e
