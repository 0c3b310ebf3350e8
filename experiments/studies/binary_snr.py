"""The signal-to-noise ratio of the phi-gradients of RWS (wake-phi, Eq. (S7)), NVIL (Eqs. (S8)-(S10)) and VIMCO
(Eq. (S11)) against k, on one trained binary model (derivations/binary.md; iwae.md does the same for IWAE and DReG):

    python -m experiments.studies.binary_snr --run RUN_DIR --out derivations/figures/binary-snr.png

RUN_DIR: a finished NVIL run, whose model and trained baselines are used (its first layer's baseline b_1(x) + c_1 centres
NVIL's signal; NVIL with k draws is the mean of k independent one-sample estimates). For each k the gradient is
estimated `replicates` times on the same 100 training images with fresh noise; a parameter's SNR is |mean| / standard
deviation over the replicates, and the figure shows the median over phi's parameters (median_snr, as for IWAE).
Each estimator's mean is that of its own objective: RWS's wake-phi follows KL(p || q), NVIL the ELBO, VIMCO L_k.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from algorithms.binary.model import open_uniforms
from algorithms.binary.nvil import score_function_gradient
from algorithms.binary.rws import rws_wake_objective
from algorithms.binary.vimco import vimco_objective
from experiments.data import kind_of
from experiments.data.mnist import load_dataset, select_images
from experiments.outputs.figures import plt
from experiments.studies.binary_results import restored
from experiments.studies.gradient_snr import median_snr

KS = (2, 5, 10, 50, 200)


def phi_gradient(model):
    return np.concatenate([grad.ravel() for grad in model.gradients("recognition.").values()]).astype(np.float64)


def estimators(model, trainer, x):
    """{name: estimate(uniforms) -> phi-gradient} for the minibatch x; uniforms: (k, N, J)."""
    baseline = trainer.baselines[0](x)[:, 0] + trainer.centre[0]                       # b_1(x) + c_1, (N,)

    def rws(uniforms):
        rws_wake_objective(model, x, uniforms)
        return phi_gradient(model)

    def vimco(uniforms):
        vimco_objective(model, x, uniforms)
        return phi_gradient(model)

    def nvil(uniforms):
        score_function_gradient(model, x, uniforms, [baseline] * len(model.layers))
        return phi_gradient(model)

    def nvil_plain(uniforms):
        score_function_gradient(model, x, uniforms, [0.0] * len(model.layers))
        return phi_gradient(model)
    return {"RWS wake-phi": rws, "NVIL": nvil, "NVIL without baselines": nvil_plain, "VIMCO": vimco}


def binary_snr(model, trainer, x, ks, replicates, rng):
    """{name: {k: median SNR}}."""
    result = {}
    for name, estimate in estimators(model, trainer, x).items():
        result[name] = {}
        for k in ks:
            draws = np.array([estimate(open_uniforms(rng, (k, x.shape[0], sum(model.layers)), model.dtype))
                              for _ in range(replicates)])
            result[name][k] = median_snr(draws)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished NVIL run's folder")
    parser.add_argument("--out", type=Path, default=Path("binary-snr.png"))
    parser.add_argument("--replicates", type=int, default=200)
    args = parser.parse_args()
    model, trainer, settings = restored(args.run)
    train = select_images(load_dataset(settings.data_dir), settings, kind_of(settings)).train
    x = train[np.random.default_rng(0).choice(len(train), 100, replace=False)]
    result = binary_snr(model, trainer, x, KS, args.replicates, np.random.default_rng(1))
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, by_k), style in zip(result.items(), ("o-", "s-", "s:", "^-")):
        ax.plot(list(by_k), list(by_k.values()), style, label=name)
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlabel("k (samples per image)"), ax.set_ylabel("median SNR over phi's parameters")
    ax.set_title(f"phi-gradient SNR, {args.replicates} replicates on 100 images")
    ax.legend(fontsize=8), ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
