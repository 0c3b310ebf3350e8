"""experiments/blas_threads.py: the timeout reaches OpenBLAS only when set before NumPy loads, and then the
idle worker stops spinning. Each case runs in a fresh interpreter (this one loaded NumPy long ago)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SPIN_PROBE = """
import time
import numpy as np
a, b = np.ones((100, 784), np.float32), np.ones((784, 500), np.float32)
a @ b
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(20):
    a @ b
    time.sleep(0.02)  # the main thread idles here; a spinning BLAS worker does not
print(round((time.process_time() - cpu) / (time.perf_counter() - wall), 2))
"""


def python(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    environ.update(env)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True,
                            check=True)
    return result.stdout.split()


def ask(before="", **env):
    """What let_idle_blas_threads_sleep() and then optimizer_threads() return in a fresh interpreter."""
    return python(before + "from experiments.blas_threads import let_idle_blas_threads_sleep, optimizer_threads\n"
                  "print(let_idle_blas_threads_sleep(), optimizer_threads())", **env)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no idle worker thread, one Adam thread")
def test_two_adam_threads_only_when_the_timeout_takes_effect():
    assert ask() == ["True", "2"]
    assert ask(before="import numpy\n") == ["False", "1"]              # too late: OpenBLAS has read its settings
    assert ask(OPENBLAS_THREAD_TIMEOUT="28") == ["False", "1"]         # the user's own (long) timeout is kept


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: OpenBLAS starts no worker thread")
def test_the_idle_worker_stops_spinning():
    """CPU time over wall time while the main thread sleeps between products: about 1 (a worker spinning on
    its core the whole time) by default, far less with the timeout."""
    spinning = float(python(SPIN_PROBE, OPENBLAS_THREAD_TIMEOUT="28")[0])
    sleeping = float(python("from experiments.blas_threads import let_idle_blas_threads_sleep\n"
                            "let_idle_blas_threads_sleep()\n" + SPIN_PROBE)[0])
    assert spinning > 0.8
    assert sleeping < 0.5
