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


def trajectory(name, history, k):
    """One sentence on where an algorithm's test bound peaked and where it ended."""
    evaluated = [h for h in history if h["test_lk"] is not None]
    best = max(evaluated, key=lambda h: h["test_lk"])
    last = evaluated[-1]
    if best is last:
        gain = last["test_lk"] - evaluated[-2]["test_lk"] if len(evaluated) > 1 else 0.0
        return (f"{NAMES[name]}'s test L_{k} was highest at the end, epoch {last['epoch']} "
                f"({last['test_lk']:.2f}, {gain:+.2f} over the previous evaluation).")
    return (f"{NAMES[name]}'s test L_{k} peaked at epoch {best['epoch']} ({best['test_lk']:.2f}) and ended "
            f"{best['test_lk'] - last['test_lk']:.2f} nats lower at epoch {last['epoch']}.")


def verdict(histories, k):
    """Markdown that answers which converged faster and which is better, from the test bounds."""
    finals = {name: history[-1]["test_lk"] for name, history in histories.items()}
    better, worse = sorted(finals, key=finals.get, reverse=True)
    target = finals[worse]
    reached = {name: first_epoch_reaching(history, target) for name, history in histories.items()}
    lines = [f"**Better:** {NAMES[better]}, with test L_{k} = {finals[better]:.2f} against {finals[worse]:.2f} "
             f"for {NAMES[worse]} ({finals[better] - finals[worse]:.2f} nats per image)."]
    if reached[better] < reached[worse]:
        lines.append(f"**Faster:** {NAMES[better]}. It was above {NAMES[worse]}'s final test L_{k} ({target:.2f}) "
                     f"by epoch {reached[better]}; {NAMES[worse]} first got there at epoch {reached[worse]}.")
    else:
        lines.append(f"**Faster:** neither by this measure: both first reached {NAMES[worse]}'s final test "
                     f"L_{k} ({target:.2f}) at epoch {reached[better]}.")
    lines.append(" ".join(trajectory(name, history, k) for name, history in histories.items()))
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
    lines += ["", "Each algorithm's own report: [AEVB](../aevb/report.md), [Wake-Sleep](../wake-sleep/report.md)."]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out_dir}/report.md and lk.png")
