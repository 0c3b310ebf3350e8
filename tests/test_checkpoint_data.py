"""Checkpoints validated as data (experiments/harness/checkpoint.py::check_meta and settings.py::from_stored): metadata
of the wrong shape or type, and a stored number that is not finite, are refused in one line naming the field, with
every file as it was; and the other answers of #36 (replay's --change, a loss out of any plausible range)."""
import json

import numpy as np
import pytest

from experiments.studies.replay import main as replay_main
from run import main
from test_force import earlier, finished_run  # noqa: F401 (fixtures: a finished run that kept its checkpoints)
from test_run_faults import TINY, answers_in_one_line, rewrite_checkpoint, snapshot


def change_meta(change):
    """A rewrite of the checkpoint that changes its metadata (a dict) by change(meta) in place."""
    def rewrite(arrays):
        meta = json.loads(str(arrays["meta"]))
        change(meta)
        arrays["meta"] = np.array(json.dumps(meta))
    return rewrite


def set_item(key, value):
    return change_meta(lambda meta: meta.__setitem__(key, value))


def stopped_mid_epoch(meta):
    meta["position"] = {"step": 1, "totals": {"loss": 500.0}, "seconds": 0.5}     # and no position/order array


DAMAGED = [
    ("settings as a list", set_item("settings", [1, 2]), "its settings are not a table of settings"),
    ("epoch as a string", set_item("epoch", "2"), "its epoch is not a whole number of epochs: '2'"),
    ("a history shorter than its epochs", change_meta(lambda meta: meta["history"].pop()),
     "its history does not hold one record per finished epoch (2)"),
    ("a NaN in the history", change_meta(lambda meta: meta["history"][0].__setitem__("loss", float("nan"))),
     "record 1 holds loss = nan, not a finite number"),
    ("a position without its order", change_meta(stopped_mid_epoch), "its position/order is not an order of the run's"),
    ("a setting of the wrong type", change_meta(lambda meta: meta["settings"].__setitem__("epochs", "many")),
     "the stored settings' epochs takes a whole number, got 'many'"),
    ("a setting out of range", change_meta(lambda meta: meta["settings"].__setitem__("lr", -1.0)),
     "the stored settings' lr takes a finite number above 0, got -1.0"),
    ("an unknown algorithm", change_meta(lambda meta: meta["settings"].__setitem__("algorithm", "nope")),
     "no algorithm 'nope' trains 'gaussian' latents"),
    ("a NaN in a stored bound", lambda arrays: arrays["bounds/test/2"].__setitem__(0, np.nan),
     "bounds/test/2 holds a value that is not finite"),
]


@pytest.mark.parametrize("change, expected", [case[1:] for case in DAMAGED], ids=[case[0] for case in DAMAGED])
def test_a_checkpoint_that_is_not_what_run_py_writes_is_refused_in_one_line(earlier, capsys, change, expected):
    rewrite_checkpoint(earlier / "checkpoint.npz", change)
    answers_in_one_line(capsys, earlier, ["aevb", "--resume", "--epochs", "3", "--out", str(earlier)], 2, expected)


@pytest.mark.parametrize("change, expected", [("lr=abc", "lr takes a number, got 'abc'"),
                                              ("bogus=1", "bogus: not a setting of AEVB"),
                                              ("sleep_lr=1", "sleep_lr: not a setting of AEVB")])
def test_replay_checks_its_changes_as_run_py_checks_flags(earlier, capsys, change, expected):
    before = snapshot(earlier)
    assert replay_main([str(earlier / "checkpoints" / "epoch-1.npz"), "--change", change]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err, err
    assert snapshot(earlier) == before


def test_a_binary_loss_beyond_any_plausible_range_stops_the_run_as_divergence(tmp_path, capsys):
    argv = ["rws", "--latent", "binary", "--layers", "10", "--lr", "1e12", "--phi-lr", "1e12", "--binarize", "fixed",
            "--nll-k", "5", *TINY, "--out", str(tmp_path / "run")]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged" in err and "the likely cause is the learning rate" in err, err


def test_a_ctrl_c_during_an_evaluation_stops_it_at_once_and_the_run_resumes_to_its_numbers(tmp_path, capsys,
                                                                                          monkeypatch):
    import os
    import signal
    from experiments.harness import training
    from conftest import history_of
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main(["aevb", *TINY, "--out", str(whole)]) == 0
    evaluate, calls = training.evaluate, []

    def interrupted(model, images, settings, what="evaluating L_k"):
        calls.append(1)
        if len(calls) == 3:                   # the test bound after epoch 2
            os.kill(os.getpid(), signal.SIGINT)
        return evaluate(model, images, settings, what)
    monkeypatch.setattr(training, "evaluate", interrupted)
    monkeypatch.setattr(training, "LONG_EVALUATION", 0)       # this test's tiny evaluation counts as a long one
    capsys.readouterr()
    assert main(["aevb", *TINY, "--out", str(stopped)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stopped while evaluating L_k after epoch 2" in err, err
    assert "the checkpoint at the end of epoch 2's steps" in err and "To continue: python run.py aevb --resume" in err
    monkeypatch.undo()
    assert main(["aevb", "--resume", "--out", str(stopped)]) == 0
    assert history_of(stopped) == history_of(whole)


def test_keep_checkpoints_where_checkpoints_is_a_file_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "checkpoints").write_text("the user's\n")
    answers_in_one_line(capsys, tmp_path, ["aevb", *TINY, "--keep-checkpoints", "--out", str(tmp_path)], 2,
                        "checkpoints is a file, where the kept checkpoints go")


@pytest.mark.parametrize("argv", [["aevb", "--hidden", "16", "--test-size", "5"],
                                  ["vimco", "--layers", "6", "--binarize", "fixed", "--nll-k", "5", "--test-size", "3"]],
                         ids=["2-D exact evaluation, 5 test images", "enumerable binary run, 3 test images"])
def test_a_test_set_smaller_than_a_figure_asks_draws_what_there_is(tmp_path, argv):
    """The posteriors' figure draws 12 test digits and the states' figure 8: with fewer test images, each draws them
    all (it ended in a traceback after training)."""
    assert main([*argv, "--epochs", "1", "--train-size", "300", "--eval-train-size", "20", "--out", str(tmp_path)]) == 0
    assert (tmp_path / ("posteriors.png" if argv[0] == "aevb" else "states.png")).is_file()
