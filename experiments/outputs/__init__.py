"""Everything a finished run leaves in its folder (write.py: metrics, figures, report.md), and the extensions that
plug into a run: each measures something the homework does not ask for, at the end of every epoch or of the run.

An extension is an Extension (below) with
    columns                       the names of the values it adds to every epoch's record (metrics.csv's columns)
    epoch_end(run, record)        called by the training loop after every epoch (experiments/harness/training.py)
    run_end(run, out, log, arrays) -> Section   once the run has finished, before the metrics and report are
                                  written: its files go into the folder out (write.py moves them into the run's);
                                  arrays holds the per-image arrays so far ('test/10', ..., an earlier extension's)
A run's extensions are chosen from its settings by extensions_for(); each is imported only when a run uses it.
Adding one is a new file and a line in EXTENSIONS.
"""
from algorithms import load

EXTENSIONS = {
    "diagnostics": "experiments.outputs.diagnostics:Diagnostics",          # what q does, every epoch
    "exact": "experiments.outputs.exact_evaluation:ExactEvaluation",       # log p(x) of a 2-D model, by quadrature
    "nll": "experiments.outputs.nll:NegativeLogLikelihood",                # -L_5000 of a binarized run
    "explorer": "experiments.outputs.explorer:Explorer",                   # explorer.html, after "exact"
    "binary-exact": "experiments.outputs.binary_exact:BinaryExactEvaluation",  # log p(x) of one binary layer
}
EXACT_SKIPPED = ("the exact log p(x) is not computed for the continuous Bernoulli on grey levels with exact 0s: its "
                 "logits drift without limit and its posteriors narrow with them (a 3-epoch model: 97 s for 20 "
                 "images); give --dequantize (derivations/likelihoods.md)")


def extensions_for(settings, exact=None, log=print):
    """The extensions a run with these settings uses: the per-epoch diagnostics with --diagnostics, the exact
    evaluation unless --no-exact, where the run's kind of latent allows it (exact=True asks for it whatever the
    settings say: run.py exact; not for the continuous Bernoulli on grey levels, which says why), and the test NLL of
    a binarized run."""
    names = ["diagnostics"] if settings.diagnostics else []
    wanted = settings.exact if exact is None else exact
    if wanted and not settings.latent_kind.why_not_exact(settings):
        if settings.likelihood == "continuous-bernoulli" and not settings.dequantize:
            log(EXACT_SKIPPED)
        else:
            names += settings.latent_kind.exact_extensions()
    if settings.binarize != "none":
        names.append("nll")
    return [load(EXTENSIONS[name])(settings) for name in names]
