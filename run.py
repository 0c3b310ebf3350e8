"""python run.py {aevb,wake-sleep,compare} [flags]: see `python run.py --help` and experiments/cli.py."""
import sys

from experiments.blas_threads import let_idle_blas_threads_sleep

let_idle_blas_threads_sleep()  # before NumPy loads: see experiments/blas_threads.py

from experiments.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
