"""A few hundred steps on the real MNIST move both algorithms the right way (a 784-200-200-2 model: the default's
margins, at a quarter of its time)."""
import numpy as np
import pytest

from algorithms.aevb import AEVB
from algorithms.bound import importance_weighted_bound
from algorithms.model import HelmholtzMachine
from algorithms.wake_sleep import WakeSleep

STEPS, BATCH, HIDDEN = 200, 100, (200, 200)


def train(trainer, images, rng):
    history = []
    for step in range(STEPS):
        rows = rng.integers(0, images.shape[0], BATCH)
        history.append(trainer.step(images[rows], rng))
    return history


def test_aevb_raises_the_test_bound_by_a_wide_margin(mnist):
    rng = np.random.default_rng(0)
    model = HelmholtzMachine(rng, hidden=HIDDEN)
    test = mnist.test_images[:500]
    before = importance_weighted_bound(model, test, k=10, seed=0).mean()
    history = train(AEVB(model), mnist.train_images, rng)
    after = importance_weighted_bound(model, test, k=10, seed=0).mean()
    assert before < -500          # an untrained decoder puts p = 1/2 on every pixel: 784 log 2 = 543
    assert after > before + 250
    assert np.mean([h["loss"] for h in history[-20:]]) < history[0]["loss"] - 300


def test_wake_sleep_lowers_the_wake_loss(mnist):
    rng = np.random.default_rng(1)
    model = HelmholtzMachine(rng, hidden=HIDDEN)
    history = train(WakeSleep(model), mnist.train_images, rng)
    wake = [h["wake_loss"] for h in history]
    assert np.mean(wake[-20:]) < wake[0] - 300
    assert all(np.isfinite(h["sleep_loss"]) for h in history)
