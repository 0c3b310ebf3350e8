"""Experiments on MNIST, in four folders, each importing only the ones before it:

    data/       the IDX files, MNIST, and the kinds of data a run trains on (grey, binarized, dequantized)
    harness/    one run: its settings, its folder and lock, checkpoints, schedules, the training loop
    outputs/    what a finished run writes (metrics, figures, report.md), and the extensions that plug into a run
    studies/    several runs at once, or one run looked at again: compare, overlay, replay, gradient SNR, KL directions

errors.py, beside them, holds the faults every folder may raise. run.py, at the top, is the command line.
"""
