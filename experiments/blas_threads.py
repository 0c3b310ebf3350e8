"""Let OpenBLAS's idle worker threads sleep: call let_idle_blas_threads_sleep() before NumPy is first imported.

NumPy's matrix products run on OpenBLAS's worker threads. After a product, an idle worker spins, waiting for
the next one, for 2^28 CPU cycles (about a tenth of a second) before it sleeps: longer than a training step,
so it holds the second core all the time, and Adam's second thread (nn/optim.py) has to share that core with
it. OPENBLAS_THREAD_TIMEOUT=k makes the worker sleep after 2^k idle cycles instead. OpenBLAS reads the
variable once, when NumPy loads it; hence "before NumPy is first imported". bench/run.py measures the effect.
"""
import os
import sys

IDLE_SPIN_EXPONENT = 16  # 2^16 cycles, some 20 microseconds: long enough to span back-to-back products


def let_idle_blas_threads_sleep():
    """Sets OPENBLAS_THREAD_TIMEOUT unless the environment already does; False if NumPy was loaded already (too late)."""
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(IDLE_SPIN_EXPONENT))
    return "numpy" not in sys.modules
