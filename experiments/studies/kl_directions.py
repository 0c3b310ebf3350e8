"""The two directions of the KL, in one dimension (short answer B of derivations/1.4-short-answers.md): the Gaussian q
closest to a target p in KL(p || q) (mass-covering, the sleep phase's direction) and in KL(q || p) (mode-seeking, the
ELBO's direction), and a figure of both against p. Remake the figure with `python -m experiments.studies.kl_directions`.

Densities are handled as log-densities throughout (callables mapping an array of points z, any shape, to log p(z) of
the same shape), and every integral is a trapezoidal rule on a fine grid, so that no density is ever exponentiated
before it is multiplied by a weight that may underflow to zero: a log of zero never happens."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

GRID = np.linspace(-20.0, 20.0, 8001)          # (8001,) points at spacing 0.005, where p is integrated
STANDARD_GRID = np.linspace(-12.0, 12.0, 4801)  # (4801,) points u, z = mean + sd * u, where q is integrated
FIGURE = Path(__file__).resolve().parents[2] / "derivations" / "figures" / "kl-directions.png"


def gaussian_log_density(z, mean, sd):
    """log N(z; mean, sd^2), elementwise: z any shape -> the same shape."""
    z = np.asarray(z, dtype=np.float64)
    return -0.5 * ((z - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)


def mixture_log_density(z, means, sds, weights):
    """log sum_k w_k N(z; m_k, s_k^2) by log-sum-exp over the K components: z any shape -> the same shape;
    means, sds, weights (K,), the weights summing to one."""
    z = np.asarray(z, dtype=np.float64)
    terms = [np.log(w) + gaussian_log_density(z, m, s) for m, s, w in zip(means, sds, weights)]
    return logsumexp(np.stack(terms), axis=0)


def bimodal_log_density(z):
    """The target of answer B: log p(z) for p = 1/2 N(-3, 1) + 1/2 N(3, 1); z any shape -> the same shape."""
    return mixture_log_density(z, means=(-3.0, 3.0), sds=(1.0, 1.0), weights=(0.5, 0.5))


def trapezoid_weights(grid):
    """(N,) increasing points -> (N,) trapezoidal-rule weights: sum(weights * f(grid)) ~ int f."""
    steps = np.diff(grid)
    weights = np.zeros_like(grid, dtype=np.float64)
    weights[:-1] += steps / 2
    weights[1:] += steps / 2
    return weights


def normalized_log_weights(log_p, grid=GRID):
    """log of (p(z_n) w_n / sum_m p(z_m) w_m) over the (N,) grid: p as a probability vector on the grid, (N,)
    (normalized on the grid, so log_p may be unnormalized)."""
    log_mass = log_p(grid) + np.log(trapezoid_weights(grid))
    return log_mass - logsumexp(log_mass)


def kl_p_to_q(log_p, mean, sd, grid=GRID):
    """KL(p || q) = E_p[log p - log q] for q = N(mean, sd^2), by the trapezoidal rule over the (N,) grid, which must
    hold all of p's mass; log_p normalized. Returns a float (nats)."""
    log_mass = log_p(grid) + np.log(trapezoid_weights(grid))
    integrand = log_p(grid) - gaussian_log_density(grid, mean, sd)
    return float(np.sum(np.exp(log_mass) * integrand))


def kl_q_to_p(log_p, mean, sd, standard_grid=STANDARD_GRID):
    """KL(q || p) = E_q[log q - log p] for q = N(mean, sd^2), by the trapezoidal rule in q's own coordinates
    z = mean + sd * u over the (N,) standard_grid of u (so q is resolved equally well at any mean and sd);
    log_p normalized. Returns a float (nats)."""
    z = mean + sd * standard_grid
    log_mass = gaussian_log_density(standard_grid, 0.0, 1.0) + np.log(trapezoid_weights(standard_grid))
    integrand = gaussian_log_density(z, mean, sd) - log_p(z)
    return float(np.sum(np.exp(log_mass) * integrand))


def fit_mass_covering(log_p, grid=GRID):
    """argmin over Gaussians q of KL(p || q), in closed form: q = N(E_p[z], Var_p[z]) (moment matching; the KL is
    -H(p) - E_p[log q], and E_p[log N(z; m, s^2)] is maximized by p's mean and variance). The moments by the
    trapezoidal rule over the (N,) grid. Returns (mean, sd), floats."""
    probabilities = np.exp(normalized_log_weights(log_p, grid))
    mean = float(np.sum(probabilities * grid))
    variance = float(np.sum(probabilities * (grid - mean) ** 2))
    return mean, float(np.sqrt(variance))


def fit_mode_seeking(log_p, grid=GRID, start_quantiles=(0.1, 0.3, 0.5, 0.7, 0.9)):
    """argmin over Gaussians q = N(mean, sd^2) of KL(q || p), numerically: Nelder-Mead over (mean, log sd) on
    kl_q_to_p, once from each start and the best kept: KL(q || p) has a local minimum at each well-separated mode of
    p and other stationary points between them (for answer B's p, a start at the median 0 stays at the symmetric
    N(0, 2.74^2), KL 0.84 against 0.69 at a mode), and one start finds only the one nearest to it. The starts: means at p's start_quantiles (computed on the (N,)
    grid), sd p's own sd. Returns (mean, sd), floats."""
    probabilities = np.exp(normalized_log_weights(log_p, grid))
    cumulative = np.cumsum(probabilities)
    start_means = grid[np.searchsorted(cumulative, start_quantiles)]
    start_log_sd = np.log(fit_mass_covering(log_p, grid)[1])

    def objective(params):
        return kl_q_to_p(log_p, params[0], np.exp(params[1]))

    best = None
    for start_mean in start_means:
        result = minimize(objective, x0=[start_mean, start_log_sd], method="Nelder-Mead",
                          options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 2000})
        if best is None or result.fun < best.fun:
            best = result
    return float(best.x[0]), float(np.exp(best.x[1]))


def plot_kl_directions(path, log_p=bimodal_log_density, p_label=r"$p = \frac{1}{2}\mathcal{N}(-3, 1) + "
                       r"\frac{1}{2}\mathcal{N}(3, 1)$", limits=(-9.0, 9.0)):
    """p, the mass-covering q (argmin KL(p || q)) and the mode-seeking q (argmin KL(q || p)) on one axis over
    limits, each with its fit and both KLs in the legend, and, when p is symmetric about 0 (as answer B's is), the
    mode-seeking q's mirror image, an equally good fit, dotted; written to path as a PNG."""
    covering = fit_mass_covering(log_p)
    seeking = fit_mode_seeking(log_p)
    z = np.linspace(*limits, 1201)

    def describe(mean, sd):
        return (rf"$\mathcal{{N}}({round(mean, 2) + 0.0:.2f}, {sd:.2f}^2)$:  "  # + 0.0: no "-0.00"
                rf"$\mathrm{{KL}}(p \,\|\, q) = {kl_p_to_q(log_p, mean, sd):.2f}$, "
                rf"$\mathrm{{KL}}(q \,\|\, p) = {kl_q_to_p(log_p, mean, sd):.2f}$")

    fig, ax = plt.subplots(figsize=(8, 6))
    ax.fill_between(z, np.exp(log_p(z)), color="0.82", label=p_label)
    ax.plot(z, np.exp(log_p(z)), color="0.4", linewidth=1)
    ax.plot(z, np.exp(gaussian_log_density(z, *covering)), color="C0", linewidth=2, linestyle="--",
            label=(r"mass-covering: $q$ minimizing $\mathrm{KL}(p \,\|\, q)$, as the sleep phase does "
                   r"($\mathrm{KL}(p(z \mid x) \,\|\, q)$)" "\n" + describe(*covering)))
    ax.plot(z, np.exp(gaussian_log_density(z, *seeking)), color="C3", linewidth=2,
            label=(r"mode-seeking: $q$ minimizing $\mathrm{KL}(q \,\|\, p)$, as AEVB's ELBO does "
                   r"($\mathrm{KL}(q \,\|\, p(z \mid x))$)" "\n" + describe(*seeking)))
    if np.allclose(log_p(z), log_p(-z)):
        ax.plot(z, np.exp(gaussian_log_density(z, -seeking[0], seeking[1])), color="C3", linewidth=1,
                linestyle=":", label="its mirror image, an equally good mode-seeking fit")
    ax.set_xlim(limits)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("$z$")
    ax.set_ylabel("density")
    ax.set_title("Fitting a Gaussian $q$ to a bimodal $p$ in each direction of the KL")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=9, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    plot_kl_directions(FIGURE)
    print(f"wrote {FIGURE}")
