"""First-order optimizers that update parameters in place.

An optimizer holds (parameter, gradient) pairs; `step()` reads the gradients and writes the parameters.
Every buffer has the parameter's own dtype and every update is in place, so float32 stays float32.
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class SGD:
    """theta <- theta - lr * g."""

    def __init__(self, pairs, lr):
        self.pairs = list(pairs)
        self.lr = float(lr)

    def step(self):
        for param, grad in self.pairs:
            param -= self.lr * grad

    def state(self):
        return {}

    def load_state(self, state):
        pass


def _adam_update(param, grad, m, v, scratch, beta1, beta2, step_size, eps):
    """One Adam update, in place, of one parameter (or one piece of it); the passes of Adam's docstring."""
    m *= beta1                              # m <- b1 m + (1 - b1) g
    np.multiply(grad, 1 - beta1, out=scratch)
    m += scratch
    v *= beta2                              # v <- b2 v + (1 - b2) g^2
    np.multiply(grad, grad, out=scratch)
    scratch *= 1 - beta2
    v += scratch
    np.sqrt(v, out=scratch)                 # theta <- theta - lr_t m / (sqrt(v) + eps_t)
    scratch += eps
    np.divide(m, scratch, out=scratch)
    scratch *= step_size
    param -= scratch


class Adam:
    """Adam (Kingma and Ba, 2015, Algorithm 1), with bias correction:

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
        theta <- theta - lr_t m / (sqrt(v) + eps_t),   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),

    the paper's efficient form (end of its section 2), with eps_t = eps sqrt(1 - b2^t) so that it equals
    theta - lr m_hat / (sqrt(v_hat) + eps) exactly. Every pass writes into an existing buffer: no
    temporaries, which would cost a quarter of an epoch's time.

    The update is elementwise, so it can be split anywhere. With threads > 1, every parameter of more than
    PIECE_MIN entries is cut into `threads` pieces and each thread updates one piece of each (NumPy's ufuncs
    release the GIL, so the threads run at once); smaller parameters are updated whole by the calling thread.
    The numbers do not depend on the split: each entry sees the same operations in the same order.
    Two threads halve the step only if a core is free for the second one: OpenBLAS's idle worker thread
    spins on a core after every matrix product unless told to sleep (experiments/blas_threads.py), and
    then two threads are slower than one. Hence the default of one.
    """

    PIECE_MIN = 1 << 16

    def __init__(self, pairs, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, threads=1):
        self.pairs = list(pairs)
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.t = 0
        self.m = [np.zeros_like(p) for p, _ in self.pairs]
        self.v = [np.zeros_like(p) for p, _ in self.pairs]
        self.scratch = [np.empty_like(p) for p, _ in self.pairs]
        self.shares = [[] for _ in range(threads)]      # shares[i]: the (param, grad, m, v, scratch) pieces of thread i
        for (param, grad), m, v, scratch in zip(self.pairs, self.m, self.v, self.scratch):
            arrays = (param, grad, m, v, scratch)
            if threads == 1 or param.size <= self.PIECE_MIN or not all(a.flags.c_contiguous for a in arrays):
                self.shares[0].append(arrays)           # updated whole by the calling thread
                continue
            flat = [array.reshape(-1) for array in arrays]  # views, since the arrays are contiguous
            bounds = np.linspace(0, param.size, threads + 1).astype(int)
            for share, start, stop in zip(self.shares, bounds[:-1], bounds[1:]):
                share.append([array[start:stop] for array in flat])
        self.workers = ThreadPoolExecutor(threads - 1) if threads > 1 else None

    def step(self):
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = math.sqrt(1 - self.beta2 ** self.t)
        constants = (self.beta1, self.beta2, self.lr * correction2 / correction1, self.eps * correction2)
        others = [self.workers.submit(self._update, share, constants) for share in self.shares[1:]]
        self._update(self.shares[0], constants)
        for other in others:
            other.result()

    @staticmethod
    def _update(share, constants):
        for piece in share:
            _adam_update(*piece, *constants)

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
