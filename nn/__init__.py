"""A minimal MLP library with hand-derived backprop; no autodiff anywhere."""
from nn.densities import (
    bernoulli_log_likelihood,
    bernoulli_log_likelihood_backward,
    continuous_bernoulli_log_likelihood,
    continuous_bernoulli_log_likelihood_backward,
    continuous_bernoulli_log_normalizer,
    continuous_bernoulli_log_normalizer_derivative,
    continuous_bernoulli_mean,
    gaussian_kl_from_standard_normal,
    gaussian_kl_from_standard_normal_backward,
    gaussian_log_density,
    gaussian_log_density_backward,
    log_mean_exp,
    log_mean_exp_backward,
)
from nn.layers import ACTIVATIONS, Linear, LogVarianceCeiling, LogVarianceFloor, MeanBound, ReLU, Sigmoid, Softplus, Tanh
from nn.mlp import MLP
from nn.optim import SGD, Adam
