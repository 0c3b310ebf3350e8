"""The optimizers against their update rules written out independently, in float64."""
from types import SimpleNamespace

import numpy as np
import pytest

from algorithms.model import HelmholtzMachine
from algorithms.rws import ReweightedWakeSleep
from experiments.data.mnist import GreyLevels, Images
from experiments.harness import schedules
from experiments.harness.new_settings import new_settings
from experiments.harness.settings import by_name
from experiments.harness.training import Interrupt, Run, new_position, run_epoch
from nn import SGD, Adam, Momentum


def test_sgd_step():
    param, grad = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    SGD([(param, grad)], lr=0.1).step()
    np.testing.assert_allclose(param, [0.95, -2.025])


def test_momentum_under_a_fixed_gradient_follows_its_closed_form_and_round_trips():
    """d_t = (1 - beta^t) g, so theta_t = theta_0 - lr g (t - beta (1 - beta^t) / (1 - beta)): a fixed gradient moves
    theta by lr g a step once d has caught up, as SGD does; and a restored optimizer continues the same steps."""
    param, grad = np.zeros(3), np.array([1.0, -2.0, 0.5])
    optimizer = Momentum([(param, grad)], lr=0.1, beta=0.95)
    for _ in range(7):
        optimizer.step()
    expected = -0.1 * grad * (7 - 0.95 * (1 - 0.95 ** 7) / 0.05)
    np.testing.assert_allclose(param, expected, rtol=1e-12)
    copy_param = param.copy()
    restored = Momentum([(copy_param, grad)], lr=0.1, beta=0.95)
    restored.load_state(optimizer.state())
    optimizer.step(), restored.step()
    np.testing.assert_array_equal(copy_param, param)


def test_adam_matches_the_textbook_update():
    """Kingma and Ba's Algorithm 1 with explicit bias-corrected moments, run side by side for 5 steps."""
    rng = np.random.default_rng(0)
    param = rng.standard_normal(6)
    grad = np.zeros(6)
    reference, m, v = param.copy(), np.zeros(6), np.zeros(6)
    adam = Adam([(param, grad)], lr=0.01)
    for t in range(1, 6):
        grad[...] = rng.standard_normal(6)
        adam.step()
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad ** 2
        m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
        reference -= 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
        np.testing.assert_allclose(param, reference, rtol=1e-12, atol=1e-14)


def test_adam_first_step_moves_each_entry_by_lr():
    """After one step m_hat / sqrt(v_hat) = g / |g|: every entry moves by lr against its gradient's sign."""
    param, grad = np.zeros(3, np.float32), np.array([3.0, -1e-3, 50.0], np.float32)
    Adam([(param, grad)], lr=1e-3).step()
    np.testing.assert_allclose(param, [-1e-3, 1e-3, -1e-3], rtol=1e-4)
    assert param.dtype == np.float32


def test_adam_steps_are_at_most_w7_times_the_learning_rate():
    """derivations/wake-sleep-diagnosis.md, Eq. (W7): |step| <= c lr, c = (1 - b1) / sqrt((1 - b2)(1 - b1^2 / b2)) = 7.27
    (with the bias corrections of step t the bound is c times a factor below 1 that tends to 1). Reached by the
    gradients of Cauchy-Schwarz's equality case, g_s growing by b2 / b1 per step (zero before the last 300 steps, so
    that nothing overflows); never passed by random gradients of wildly different sizes."""
    bound = 0.1 / np.sqrt(0.001 * (1 - 0.81 / 0.999))
    param, grad = np.zeros(1), np.zeros(1)
    adam, steps = Adam([(param, grad)], lr=1e-3), []
    for t in range(6000):
        grad[0] = (0.999 / 0.9) ** (t - 5700) if t >= 5700 else 0.0
        before = param[0]
        adam.step()
        steps.append(abs(param[0] - before) / 1e-3)
    correction = np.sqrt(1 - 0.999 ** 6000)          # the bias corrections at the last step: 0.9988
    assert steps[-1] == pytest.approx(bound * correction, rel=1e-6) and max(steps) <= bound
    rng = np.random.default_rng(3)
    param, grad = np.zeros(50), np.zeros(50)
    adam, largest = Adam([(param, grad)], lr=1e-3), 0.0
    for t in range(3000):
        grad[...] = rng.standard_normal(50) * np.exp(rng.normal(0, 3, 50))
        before = param.copy()
        adam.step()
        largest = max(largest, np.abs(param - before).max() / 1e-3)
    assert largest <= bound * (1 + 1e-9)


def test_adam_state_round_trip():
    rng = np.random.default_rng(1)
    param_a, grad = rng.standard_normal(4), rng.standard_normal(4)
    param_b = param_a.copy()
    a, b = Adam([(param_a, grad)]), Adam([(param_b, grad)])
    a.step()
    b.load_state({k: np.copy(v) for k, v in a.state().items()})
    param_b[...] = param_a
    a.step()
    b.step()
    np.testing.assert_array_equal(param_a, param_b)


def test_the_schedules_set_every_learning_rate_by_epoch():
    """Stage i lasts 3^i epochs at 10^(-i/7) times the initial rate: epochs 1 | 2-4 | 5-13 | 14-40 | 41-121; run_epoch
    sets both of RWS's optimizers from their own initial rates, for the epoch it runs."""
    stages = {1: 0, 2: 1, 4: 1, 5: 2, 13: 2, 14: 3, 40: 3, 41: 4, 121: 4, 122: 5, 3280: 7}
    for epoch, stage in stages.items():
        assert schedules.iwae(epoch, {}) == pytest.approx(10 ** (-stage / 7), rel=1e-15)
        assert schedules.constant(epoch, {}) == 1.0
    for epoch in (1, 11, 26, 51):      # decay: tenfold smaller every T epochs, from 1 at epoch 1
        assert schedules.decay(epoch, SimpleNamespace(lr_decay_epochs=25)) == pytest.approx(10 ** (-(epoch - 1) / 25), rel=1e-15)
    assert schedules.decay(26, SimpleNamespace(lr_decay_epochs=25)) == pytest.approx(0.1, rel=1e-15)
    assert [schedules.drop(epoch, SimpleNamespace(lr_drop_epoch=95)) for epoch in (1, 95, 96, 100)] == [1, 1, 0.1, 0.1]
    assert set(schedules.SCHEDULES) == set(by_name("aevb")["lr_schedule"].parse.choices)
    rng = np.random.default_rng(0)
    trainer = ReweightedWakeSleep(HelmholtzMachine(rng, data_dim=6, hidden=[4]), lr=1e-3, phi_lr=3e-4, k=2)
    settings = new_settings("rws", {"batch_size": 5, "epochs": 20, "lr_schedule": "iwae"}, quick=False)
    run = Run(settings, Images(rng.random((10, 6), dtype=np.float32), None, None, None), (6,), GreyLevels(settings),
              None, trainer.model, trainer, rng)
    with Interrupt() as interrupt:
        run_epoch(run, 14, new_position(10, rng, ["loss"]), interrupt, None)
    assert trainer.optimizers["theta"].lr == pytest.approx(1e-3 * 10 ** (-3 / 7), rel=1e-15)
    assert trainer.optimizers["phi"].lr == pytest.approx(3e-4 * 10 ** (-3 / 7), rel=1e-15)

