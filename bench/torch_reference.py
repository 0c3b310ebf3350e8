"""The same model and the same steps in PyTorch, for bench/run.py's side-by-side timing only.

PyTorch is a bench-only extra (`pip install torch==2.13.0`); nothing in the package or its tests imports it.
"""
import math

import torch
import torch.nn.functional as F


def mlp(sizes):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        linear = torch.nn.Linear(n_in, n_out)
        torch.nn.init.xavier_uniform_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers += [linear, torch.nn.Softplus()]
    return torch.nn.Sequential(*layers[:-1])


class TorchHelmholtz:
    def __init__(self, data_dim=784, latent_dim=2, hidden=(500, 500), seed=0):
        torch.manual_seed(seed)
        self.latent_dim = latent_dim
        self.recognition = mlp([data_dim, *hidden, 2 * latent_dim])
        self.generative = mlp([latent_dim, *reversed(hidden), data_dim])

    def encode(self, x):
        out = self.recognition(x)
        return out[:, :self.latent_dim], out[:, self.latent_dim:]


def gaussian_log_density(z, mean, log_var):
    return -0.5 * (math.log(2 * math.pi) + log_var + (z - mean) ** 2 * torch.exp(-log_var)).sum(-1)


class TorchAEVB:
    def __init__(self, model, lr=1e-3):
        self.model = model
        params = [*model.recognition.parameters(), *model.generative.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=lr)

    def step(self, x):
        mean, log_var = self.model.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = self.model.generative(z)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = 0.5 * (mean ** 2 + torch.expm1(log_var) - log_var).sum()
        loss = (reconstruction + kl) / x.shape[0]
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


class TorchWakeSleep:
    def __init__(self, model, wake_lr=1e-3, sleep_lr=1e-5, sleep_samples=100):
        self.model, self.sleep_samples = model, sleep_samples
        self.wake = torch.optim.Adam(model.generative.parameters(), lr=wake_lr)
        self.sleep = torch.optim.Adam(model.recognition.parameters(), lr=sleep_lr)

    def step(self, x):
        with torch.no_grad():
            mean, log_var = self.model.encode(x)
            z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        wake_loss = F.binary_cross_entropy_with_logits(self.model.generative(z), x, reduction="sum") / x.shape[0]
        self.wake.zero_grad()
        wake_loss.backward()
        self.wake.step()

        with torch.no_grad():
            z = torch.randn(self.sleep_samples, self.model.latent_dim)
            dreams = torch.bernoulli(torch.sigmoid(self.model.generative(z)))
        mean, log_var = self.model.encode(dreams)
        sleep_loss = -gaussian_log_density(z, mean, log_var).mean()
        self.sleep.zero_grad()
        sleep_loss.backward()
        self.sleep.step()


class TorchIWAE:
    """The IWAE objective, -mean over images of log (1/k) sum_i w_i with z_i reparameterized, by autodiff."""

    def __init__(self, model, lr=1e-3, k=5):
        self.model, self.k = model, k
        params = [*model.recognition.parameters(), *model.generative.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=lr)

    def step(self, x):
        mean, log_var = self.model.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn(self.k, *mean.shape)
        logits = self.model.generative(z.reshape(-1, self.model.latent_dim)).reshape(self.k, x.shape[0], -1)
        log_likelihood = -F.binary_cross_entropy_with_logits(logits, x.expand(self.k, -1, -1), reduction="none").sum(-1)
        log_weights = (log_likelihood + gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
                       - gaussian_log_density(z, mean, log_var))
        loss = -(torch.logsumexp(log_weights, 0) - math.log(self.k)).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


@torch.no_grad()
def importance_weighted_bound(model, x, k, chunk_size=100):
    bounds = []
    for start in range(0, x.shape[0], chunk_size):
        rows = x[start:start + chunk_size]
        mean, log_var = model.encode(rows)
        z = mean + torch.exp(0.5 * log_var) * torch.randn(k, *mean.shape)
        logits = model.generative(z.reshape(-1, model.latent_dim)).reshape(k, rows.shape[0], -1)
        log_likelihood = -F.binary_cross_entropy_with_logits(
            logits, rows.expand(k, -1, -1), reduction="none").sum(-1)
        log_weights = (log_likelihood + gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
                       - gaussian_log_density(z, mean, log_var))
        bounds.append(torch.logsumexp(log_weights, 0) - math.log(k))
    return torch.cat(bounds)
