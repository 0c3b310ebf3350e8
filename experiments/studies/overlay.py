"""Several runs in one figure: their test and train L_k against epoch, and their per-epoch diagnostics, read from
each run's folder (metrics.json when it finished; its checkpoint's history when it stopped or diverged).

    python -m experiments.studies.overlay --out derivations/figures/ws-regimes "sleep 1e-5=results/ws" "sleep 1e-3=results/ws3"

writes OUT-lk.png and, when some run recorded diagnostics, OUT-diagnostics.png; prints a Markdown table of every
run's evaluations.
"""
import argparse
import json
import sys
from pathlib import Path

from experiments.errors import Fault
from experiments.harness.checkpoint import read_checkpoint
from experiments.harness.stored import from_stored
from experiments.outputs import figures
from experiments.outputs.diagnostics import diagnostic_k
from experiments.outputs.report import estimate


def labelled_folder(text):
    label, separator, folder = text.rpartition("=")     # the label may hold "=", a folder rarely does
    if not separator or not label or not folder:
        raise argparse.ArgumentTypeError(f"{text!r}: give LABEL=FOLDER")
    return label, Path(folder)


def saved_history(folder):
    """(settings, history) of the run in folder: from metrics.json if it finished, else from its checkpoint."""
    metrics = folder / "metrics.json"
    if not metrics.is_file() and not (folder / "checkpoint.npz").is_file():
        raise Fault(f"{folder}: no run there (neither metrics.json nor checkpoint.npz)")
    if metrics.is_file():
        saved = json.loads(metrics.read_text())
        return from_stored(saved["settings"]), saved["history"]
    meta, _ = read_checkpoint(folder / "checkpoint.npz")
    return from_stored(meta["settings"]), meta["history"]


def table(histories):
    """Markdown: one row per evaluated epoch, one column per run, test L_k ± its standard error.
    histories: {label: history}."""
    epochs = sorted({h["epoch"] for history in histories.values() for h in history if h["test_lk"] is not None})
    lines = ["| epoch | " + " | ".join(histories) + " |", "|" + " --- |" * (1 + len(histories))]
    for epoch in epochs:
        cells = []
        for history in histories.values():
            found = [h for h in history if h["epoch"] == epoch and h["test_lk"] is not None]
            cells.append(estimate(found[0]["test_lk"], found[0]["test_lk_se"]) if found else "—")
        lines.append(f"| {epoch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.studies.overlay", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=labelled_folder, metavar="LABEL=FOLDER")
    parser.add_argument("--out", type=Path, required=True, help="prefix of the figures' paths")
    args = parser.parse_args(argv)
    try:
        runs = {label: saved_history(folder) for label, folder in args.runs}
    except Fault as fault:
        print(f"overlay: error: {fault}", file=sys.stderr)
        return 2
    ks = {settings.eval_k for settings, _ in runs.values()}
    if len(ks) > 1:
        print(f"overlay: error: the runs' bounds have different k ({sorted(ks)}); overlay compares one k",
              file=sys.stderr)
        return 2
    histories = {label: history for label, (_, history) in runs.items()}
    figures.plot_lk(Path(f"{args.out}-lk.png"), histories, ks.pop())
    diagnosed = {label: history for label, history in histories.items() if any("ess" in h for h in history)}
    if diagnosed:
        dks = {diagnostic_k(runs[label][0]) for label in diagnosed}
        figures.plot_diagnostics(Path(f"{args.out}-diagnostics.png"), diagnosed, dks.pop() if len(dks) == 1 else "k")
    print(table(histories))
    return 0


if __name__ == "__main__":
    sys.exit(main())
