"""The test negative log-likelihood of a binarized run (derivations/likelihoods.md): the extension a run with
--binarize ends with (experiments/outputs/__init__.py)."""
import time

import numpy as np

from algorithms.bound import importance_weighted_bound, mean_and_standard_error
from experiments.harness.progress import progress
from experiments.outputs.extension import Extension, Section


class NegativeLogLikelihood(Extension):
    """-L_k per test image with k = --nll-k (the IWAE paper's estimate of -log p(x), 5000 samples there): an upper
    bound on the negative log-likelihood in expectation, within a fraction of a nat of it for a trained model."""

    @property
    def doing(self):
        return f"evaluating -L_{self.k} on the test images"

    def __init__(self, settings):
        super().__init__(settings)
        self.k, self.seed = settings.nll_k, settings.seed

    def run_end(self, run, out, log, arrays):
        """One image's k samples at a time, so memory stays at k rows of D logits."""
        began = time.perf_counter()
        with progress(f"test -L_{self.k}", len(run.images.test) * self.k) as done, \
                np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            bounds = importance_weighted_bound(run.model, run.images.test, self.k, seed=self.seed,
                                               chunk_size=max(1, 2000 // self.k), done=done)
        nll, se = mean_and_standard_error(-bounds)
        log(f"test negative log-likelihood -L_{self.k} {nll:.2f} ± {se:.2f} ({time.perf_counter() - began:.0f} s)")
        return Section(final={"nll_k": self.k, "nll": nll, "nll_se": se}, arrays={"nll/test": -bounds},
                       rows=[(f"test negative log-likelihood, -L_{self.k}", nll, se)])
