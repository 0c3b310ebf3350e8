"""The command line of run.py: parse flags, then train, evaluate, draw and report."""
import argparse
import sys
import time
from pathlib import Path

from experiments.idx import DataError
from experiments.mnist import load_dataset

QUICK = {"epochs": 3, "train_size": 10000, "test_size": 1000, "eval_train_size": 1000, "eval_every": 1}
DEFAULTS = {"epochs": 100, "train_size": None, "test_size": None, "eval_train_size": 10000, "eval_every": 10}


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def make_parser():
    parser = argparse.ArgumentParser(
        prog="run.py", description="Helmholtz machines on MNIST: the experiments of section 1.6 of the write-up.")
    parser.add_argument("command", choices=["aevb", "wake-sleep", "compare"],
                        help="train AEVB, train Wake-Sleep, or put the two side by side (training whichever "
                             "has no finished run)")
    add = parser.add_argument
    add("--epochs", type=positive_int, help="passes over the training set (default 100; --quick: 3)")
    add("--batch-size", type=positive_int, default=100, help="minibatch size (default 100)")
    add("--latent-dim", type=positive_int, default=2, help="dimension J of z (default 2)")
    add("--hidden", type=positive_int, nargs="+", default=[500, 500],
        help="hidden layer sizes of the recognition net; the generative net mirrors them (default 500 500)")
    add("--lr", type=positive_float, default=1e-3, help="AEVB's Adam learning rate (default 1e-3)")
    add("--wake-lr", type=positive_float, default=1e-3, help="wake phase Adam learning rate (default 1e-3)")
    add("--sleep-lr", type=positive_float, default=1e-5, help="sleep phase Adam learning rate (default 1e-5)")
    add("--sleep-samples", type=positive_int, default=100, help="dreams per sleep step (default 100)")
    add("--k", type=positive_int, default=100, help="importance samples of the bound L_k (default 100)")
    add("--eval-every", type=positive_int, help="evaluate L_k every this many epochs, and after the last "
                                                "(default 10; --quick: 1)")
    add("--eval-train-size", type=positive_int,
        help="training images for the train bound, fixed by the seed (default 10000; 60000 for all; --quick: 1000)")
    add("--train-size", type=positive_int, help="train on the first N training images (default all; --quick: 10000)")
    add("--test-size", type=positive_int, help="evaluate on the first N test images (default all; --quick: 1000)")
    add("--seed", type=int, default=0, help="seeds initialization, minibatches, noise and evaluation (default 0)")
    add("--data-dir", type=Path, help="a directory with the four MNIST-format IDX files, .gz or raw "
                                      "(default: the embedded MNIST, checked against its MD5 sums)")
    add("--out", type=Path, help="output folder (default results/<command>/; compare: results/)")
    add("--resume", action="store_true", help="continue from the checkpoint in the output folder")
    add("--quick", action="store_true", help="a first look in about a minute: 3 epochs on 10000 images, "
                                             "bounds on 1000, every output still written")
    return parser


def make_config(args):
    """Every flag's value, with --quick and the defaults filled in, as plain JSON types."""
    config = vars(args).copy()
    for key, default in (QUICK if args.quick else DEFAULTS).items():
        if config[key] is None:
            config[key] = default
    config["data_dir"] = None if args.data_dir is None else str(args.data_dir)
    config["out"] = str(args.out or Path("results") / ("" if args.command == "compare" else args.command))
    config["algorithm"] = config.pop("command")
    return config


def run_one(config, data):
    """Trains one algorithm and writes every output into config["out"]."""
    from experiments.outputs import final_numbers, write_figures, write_metrics
    from experiments.report import write_report
    from experiments.training import select_data, train

    began = time.perf_counter()
    out_dir = Path(config["out"])
    model, history = train(config, data, out_dir)
    figure_note = write_figures(out_dir, config, model, data, history)
    _, test, _, train_subset = select_data(data, config)
    final = final_numbers(history, time.perf_counter() - began)
    final.update(data=config["data_dir"] or "MNIST", test_images=len(test), train_bound_images=len(train_subset))
    write_metrics(out_dir, config, history, final)
    write_report(out_dir, config, history, final, figure_note)
    print(f"wrote {out_dir}/: report.md, metrics.json, metrics.csv and the figures")
    return history


def main(argv=None):
    args = make_parser().parse_args(argv)
    config = make_config(args)
    try:
        data = load_dataset(config["data_dir"])
        if config["algorithm"] == "compare":
            from experiments.compare import compare
            compare(config, data, run_one)
        else:
            run_one(config, data)
    except DataError as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0

