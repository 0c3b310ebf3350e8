"""python run.py compare: both algorithms side by side, answered from their numbers."""
import json
from pathlib import Path

from experiments import figures
from experiments.report import NAMES
from experiments.training import RESUME_MUST_MATCH

ALGORITHMS = ("aevb", "wake-sleep")


def finished_history(out_dir, config):
    """The history of a finished run in out_dir made with these settings, or None."""
    try:
        metrics = json.loads((out_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    saved = metrics.get("config", {})
    if any(saved.get(key) != config.get(key) for key in (*RESUME_MUST_MATCH, "epochs", "data_dir")):
        return None
    history = metrics.get("history", [])
    return history if len(history) == config["epochs"] else None


def first_epoch_reaching(history, target):
    """The first evaluated epoch whose test bound is at least target, or None."""
    return next((h["epoch"] for h in history if h["test_lk"] is not None and h["test_lk"] >= target), None)


def verdict(histories, k):
    """Markdown that answers which converged faster and which is better, from the test bounds."""
    finals = {name: history[-1]["test_lk"] for name, history in histories.items()}
    better, worse = sorted(finals, key=finals.get, reverse=True)
    target = finals[worse]
    reached = {name: first_epoch_reaching(history, target) for name, history in histories.items()}
    lines = [f"**Better:** {NAMES[better]}, with test L_{k} = {finals[better]:.2f} against {finals[worse]:.2f} "
             f"for {NAMES[worse]} ({finals[better] - finals[worse]:.2f} nats per image)."]
    if reached[better] is not None and reached[better] < reached[worse]:
        lines.append(f"**Faster:** {NAMES[better]} reached {NAMES[worse]}'s final test L_{k} ({target:.2f}) "
                     f"at epoch {reached[better]}; {NAMES[worse]} got there only at its last evaluation, "
                     f"epoch {reached[worse]}.")
    else:
        lines.append(f"**Faster:** neither: both first reached {target:.2f} at epoch {reached[better]}.")
    return "\n\n".join(lines)


def compare(config, data, run_one):
    root = Path(config["out"])
    histories = {}
    for algorithm in ALGORITHMS:
        run_config = {**config, "algorithm": algorithm, "out": str(root / algorithm)}
        history = finished_history(root / algorithm, run_config)
        if history is None:
            print(f"training {NAMES[algorithm]} into {root / algorithm}/")
            history = run_one(run_config, data)
        else:
            print(f"reusing the finished {NAMES[algorithm]} run in {root / algorithm}/")
        histories[algorithm] = history
    out_dir = root / "compare"
    out_dir.mkdir(parents=True, exist_ok=True)
    labelled = {NAMES[name]: history for name, history in histories.items()}
    figures.plot_lk(out_dir / "lk.png", labelled, config["k"])
    k = config["k"]
    lines = ["# AEVB and Wake-Sleep side by side", "", verdict(histories, k), "",
             f"![L_{k} of both algorithms against epoch](lk.png)", "",
             f"| epoch | AEVB test L_{k} | Wake-Sleep test L_{k} | AEVB train L_{k} | Wake-Sleep train L_{k} |",
             "| --- | --- | --- | --- | --- |"]
    for aevb, wake_sleep in zip(histories["aevb"], histories["wake-sleep"]):
        if aevb["test_lk"] is not None:
            lines.append(f"| {aevb['epoch']} | {aevb['test_lk']:.2f} | {wake_sleep['test_lk']:.2f} | "
                         f"{aevb['train_lk']:.2f} | {wake_sleep['train_lk']:.2f} |")
    lines += ["", f"Each algorithm's own report: [AEVB](../aevb/report.md), [Wake-Sleep](../wake-sleep/report.md)."]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out_dir}/report.md and lk.png")
