"""The two KL directions of short answer B (derivations/1.4-short-answers.md), for p = 1/2 N(-3, 1) + 1/2 N(3, 1):
the mass-covering fit is p's moments, the mode-seeking fit sits on one mode, each wins its own direction
(experiments/studies/kl_directions.py)."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import rendered_figures
from experiments.studies.kl_directions import (bimodal_log_density, fit_mass_covering, fit_mode_seeking,
                                       gaussian_log_density, kl_p_to_q, kl_q_to_p, plot_kl_directions)


@pytest.fixture(scope="module")
def fits():
    """(mass-covering (mean, sd), mode-seeking (mean, sd)) for answer B's p, fitted once."""
    return fit_mass_covering(bimodal_log_density), fit_mode_seeking(bimodal_log_density)


def test_both_kls_by_quadrature_agree_with_the_closed_form_between_gaussians():
    """KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2, both ways round."""
    def closed_form(m1, s1, m2, s2):
        return np.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5

    def log_p(z):
        return gaussian_log_density(z, 1.0, 2.0)

    assert kl_p_to_q(log_p, -0.5, 0.7) == pytest.approx(closed_form(1.0, 2.0, -0.5, 0.7), abs=1e-9)
    assert kl_q_to_p(log_p, -0.5, 0.7) == pytest.approx(closed_form(-0.5, 0.7, 1.0, 2.0), abs=1e-9)


def test_mass_covering_fit_is_the_mixtures_mean_and_variance(fits):
    (mean, sd), _ = fits
    assert abs(mean) < 1e-6                  # the mixture's mean: 1/2 (-3) + 1/2 (3)
    assert abs(sd ** 2 - 10.0) < 1e-6        # its variance: the components' 1 plus the means' spread 9


def test_mode_seeking_fit_sits_on_one_mode_at_about_log_2(fits):
    """At one mode q ~ N(+-3, 1) misses the other half of p's mass: KL(q || p) ~ E_q[log q - log(q / 2)] = log 2
    (0.6888 measured: a little below, since q widens slightly toward the other mode)."""
    _, (mean, sd) = fits
    assert abs(abs(mean) - 3.0) < 0.05 and abs(sd - 1.0) < 0.05
    assert abs(kl_q_to_p(bimodal_log_density, mean, sd) - np.log(2)) < 0.01


def test_each_fit_wins_its_own_direction_and_loses_the_other(fits):
    covering, seeking = fits
    assert kl_p_to_q(bimodal_log_density, *covering) < kl_p_to_q(bimodal_log_density, *seeking)
    assert kl_q_to_p(bimodal_log_density, *seeking) < kl_q_to_p(bimodal_log_density, *covering)


def test_the_figure_is_written_as_a_readable_png(tmp_path):
    path = tmp_path / "kl-directions.png"
    with rendered_figures():
        plot_kl_directions(path)
    image = plt.imread(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
