"""A progress bar for every wait of more than a few seconds: what is being done, how far it is, and the time left
(tqdm; shown on a terminal only, so that logs and tests read one line per epoch)."""
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress(what, total, unit="sample"):
    """A bar of total units described by what; yields the function that advances it (done(units))."""
    bar = tqdm(total=total, desc=what, unit=unit, unit_scale=True, leave=False, disable=None)
    try:
        yield bar.update
    finally:
        bar.close()
