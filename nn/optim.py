"""First-order optimizers that update parameters in place.

An optimizer holds (parameter, gradient) pairs; `step()` reads the gradients and writes the parameters.
Every buffer has the parameter's own dtype and every update is in place, so float32 stays float32.
"""
import math

import numpy as np


class SGD:
    """theta <- theta - lr * g."""

    def __init__(self, pairs, lr):
        self.pairs = list(pairs)
        self.lr = self.initial_lr = float(lr)        # a schedule sets lr from initial_lr

    def step(self):
        for param, grad in self.pairs:
            param -= self.lr * grad

    def state(self):
        return {}

    def load_state(self, state):
        pass


class Momentum:
    """SGD with momentum as a moving average of the gradients (the trainer of RWS's reference code):

        d <- beta d + (1 - beta) g,   theta <- theta - lr d,

    so that a gradient held fixed moves theta by lr g a step, as plain SGD does, once d has caught up."""

    def __init__(self, pairs, lr, beta=0.95):
        self.pairs = list(pairs)
        self.lr = self.initial_lr = float(lr)        # a schedule sets lr from initial_lr
        self.beta = float(beta)
        self.d = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self):
        for (param, grad), d in zip(self.pairs, self.d):
            d *= self.beta
            d += (1 - self.beta) * grad
            param -= self.lr * d

    def state(self):
        return {f"d{i}": d for i, d in enumerate(self.d)}

    def load_state(self, state):
        for i, d in enumerate(self.d):
            d[...] = state[f"d{i}"]


class Adam:
    """Adam (Kingma and Ba, 2015, Algorithm 1), with bias correction:

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
        theta <- theta - lr_t m / (sqrt(v) + eps_t),   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),

    the paper's efficient form (end of its section 2), with eps_t = eps sqrt(1 - b2^t) so that it equals
    theta - lr m_hat / (sqrt(v_hat) + eps) exactly. Every pass writes into an existing buffer: no
    temporaries, which would cost a quarter of an epoch's time. Whatever the gradients, a step moves each entry by
    at most (1 - b1) / sqrt((1 - b2)(1 - b1^2 / b2)) lr, 7.27 lr with the defaults (Eq. (W7),
    derivations/wake-sleep-diagnosis.md).

    It runs on one thread. Splitting the update over two (NumPy's ufuncs release the GIL) was measured and
    dropped: after each matrix product, OpenBLAS's idle worker thread spins on the second core for about
    0.1 s, longer than a step, so a second thread finds no free core; letting the worker sleep
    (OPENBLAS_THREAD_TIMEOUT=20) and timing the two versions against each other in bench/run.py's paired blocks
    (--against) made AEVB about 5% faster and Wake-Sleep no faster: not worth a setting that must be made before
    NumPy loads.
    """

    def __init__(self, pairs, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.pairs = list(pairs)
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.initial_lr = self.lr                    # a schedule sets lr from initial_lr
        self.t = 0
        self.m = [np.zeros_like(p) for p, _ in self.pairs]
        self.v = [np.zeros_like(p) for p, _ in self.pairs]
        self.scratch = [np.empty_like(p) for p, _ in self.pairs]

    def step(self):
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = math.sqrt(1 - self.beta2 ** self.t)
        step_size = self.lr * correction2 / correction1
        eps = self.eps * correction2
        for (param, grad), m, v, scratch in zip(self.pairs, self.m, self.v, self.scratch):
            m *= self.beta1                         # m <- b1 m + (1 - b1) g
            np.multiply(grad, 1 - self.beta1, out=scratch)
            m += scratch
            v *= self.beta2                         # v <- b2 v + (1 - b2) g^2
            np.multiply(grad, grad, out=scratch)
            scratch *= 1 - self.beta2
            v += scratch
            np.sqrt(v, out=scratch)                 # theta <- theta - lr_t m / (sqrt(v) + eps_t)
            scratch += eps
            np.divide(m, scratch, out=scratch)
            scratch *= step_size
            param -= scratch

    def state(self):
        """Arrays that restore this optimizer exactly, keyed for a checkpoint."""
        state = {"t": np.array(self.t)}
        for i, (m, v) in enumerate(zip(self.m, self.v)):
            state[f"m{i}"], state[f"v{i}"] = m, v
        return state

    def load_state(self, state):
        self.t = int(state["t"])
        for i, (m, v) in enumerate(zip(self.m, self.v)):
            m[...] = state[f"m{i}"]
            v[...] = state[f"v{i}"]
