"""A minimal MLP library with hand-derived backprop; no autodiff anywhere.

The write-up's pieces are imported here. Two extensions are not, and load only when a run asks for them:
nn/heads.py (bounded recognition heads) and nn/continuous_bernoulli.py (the continuous Bernoulli likelihood).
"""
from nn.densities import (
    Bernoulli,
    StreamingLogSumExp,
    bernoulli_log_likelihood,
    bernoulli_log_likelihood_backward,
    gaussian_kl_from_standard_normal,
    gaussian_kl_from_standard_normal_backward,
    gaussian_log_density,
    gaussian_log_density_backward,
    log_mean_exp,
    log_mean_exp_backward,
)
from nn.layers import ACTIVATIONS, Linear, ReLU, Sigmoid, Softplus, Tanh
from nn.mlp import MLP
from nn.optim import SGD, Adam, Momentum
