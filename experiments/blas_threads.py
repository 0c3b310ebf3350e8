"""Let OpenBLAS's idle worker threads sleep, so that Adam can use a second thread.

NumPy's matrix products run on OpenBLAS's worker threads. After a product, an idle worker spins, waiting for
the next one, for 2^28 CPU cycles (about a tenth of a second) before it sleeps: longer than a training step,
so it holds a core all the time, and a second thread of Adam's (nn/optim.py) would have to share that core
with it, which makes the step slower, not faster. OPENBLAS_THREAD_TIMEOUT=k makes the worker sleep after 2^k
idle cycles instead. OpenBLAS reads the variable once, when NumPy loads it: let_idle_blas_threads_sleep()
must run before NumPy is first imported (run.py and bench/ call it first thing), and optimizer_threads()
gives the second thread only when it did.
"""
import os
import sys

IDLE_SPIN_EXPONENT = 16  # 2^16 cycles, some 20 microseconds: long enough to span back-to-back products

_idle_workers_sleep = False


def let_idle_blas_threads_sleep():
    """Sets OPENBLAS_THREAD_TIMEOUT unless the environment already does. True if it takes effect: NumPy was
    not loaded yet and the timeout is at most IDLE_SPIN_EXPONENT."""
    global _idle_workers_sleep
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(IDLE_SPIN_EXPONENT))
    timeout = os.environ["OPENBLAS_THREAD_TIMEOUT"]
    _idle_workers_sleep = ("numpy" not in sys.modules and timeout.isdigit()
                           and int(timeout) <= IDLE_SPIN_EXPONENT)
    return _idle_workers_sleep


def optimizer_threads():
    """Threads for Adam: 2 when the BLAS's idle worker sleeps and there are two cores, else 1."""
    return 2 if _idle_workers_sleep and (os.cpu_count() or 1) >= 2 else 1
