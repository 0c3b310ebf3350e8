"""python run.py {aevb,wake-sleep,compare} [flags]: see `python run.py --help` and experiments/cli.py."""
import sys

from experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
