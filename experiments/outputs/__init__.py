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
from experiments.errors import Fault
from experiments.data import kind_name, source_of

EXTENSIONS = {
    "diagnostics": "experiments.outputs.diagnostics:Diagnostics",          # what q does, every epoch
    "exact": "experiments.outputs.exact_evaluation:ExactEvaluation",       # log p(x) of a 2-D model, by quadrature
    "nll": "experiments.outputs.nll:NegativeLogLikelihood",                # -L_5000 of a binarized run
    "explorer": "experiments.outputs.explorer:Explorer",                   # explorer.html, after "exact"
    "binary-exact": "experiments.outputs.binary_exact:BinaryExactEvaluation",  # log p(x) of one binary layer
    "exact-kl": "experiments.outputs.exact_kl:ExactKL",                    # KL(P_data || P_model) in bits, every epoch
    "bars-page": "experiments.outputs.bars_page:BarsPage",                 # bars.html, the page you can touch
}


def extensions_for(settings, exact=None, log=print):
    """The extensions a run with these settings uses: the per-epoch diagnostics with --diagnostics; the measures of
    its data source, where it has its own (--data bars: the exact KL in bits, and the page), else the exact
    evaluation unless --no-exact, where the run's kind of latent allows it (exact=True asks for it whatever the
    settings say: run.py exact; not for the continuous Bernoulli on grey levels, which says why); and the test NLL of
    a binarized run."""
    names = ["diagnostics"] if settings.diagnostics else []
    wanted = settings.exact if exact is None else exact
    if source_of(settings).extensions:
        names += source_of(settings).extensions
    elif wanted and not settings.latent_kind.why_not_exact(settings):
        out_of_reach = settings.likelihood_class.exact_out_of_reach.get(kind_name(settings))
        if out_of_reach:
            log(out_of_reach)
        else:
            names += settings.latent_kind.exact_extensions()
    if settings.binarize != "none":
        names.append("nll")
    unknown = [name for name in settings.extensions if name not in EXTENSIONS]
    if unknown:
        raise Fault(f"--extensions {' '.join(unknown)}: not an extension; the extensions are {', '.join(EXTENSIONS)}")
    names += [name for name in settings.extensions if name not in names]
    return [load(EXTENSIONS[name])(settings) for name in names]
