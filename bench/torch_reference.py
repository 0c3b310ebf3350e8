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


def bernoulli_log_prob(x, logits):
    """log Bernoulli(x; sigmoid(eta)) = sum_d [x_d eta_d - softplus(eta_d)], from the logits eta (broadcasting), by
    PyTorch's fused binary_cross_entropy_with_logits: its fastest form, so that the comparison is the strictest."""
    x, logits = torch.broadcast_tensors(x, logits)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def sbn_linear(n_in, n_out, dtype):
    linear = torch.nn.Linear(n_in, n_out, dtype=dtype)
    torch.nn.init.xavier_uniform_(linear.weight)
    torch.nn.init.zeros_(linear.bias)
    return linear


class TorchSBN:
    """The linear sigmoid belief network of algorithms/binary/model.py (hidden=[]): recognition[l] = f_{l+1}, one
    Linear h_l -> h_{l+1} (h_0 = x); generative[l] = g_{l+1}, one Linear h_{l+1} -> h_l; prior: the top layer's
    logits. Samples are (k, N, J) tensors."""

    def __init__(self, data_dim=784, layers=(200, 200), seed=0, dtype=torch.float32):
        torch.manual_seed(seed)
        self.layers, sizes = list(layers), [data_dim, *layers]
        self.recognition = torch.nn.ModuleList(sbn_linear(below, above, dtype)
                                               for below, above in zip(sizes[:-1], sizes[1:]))
        self.generative = torch.nn.ModuleList(sbn_linear(above, below, dtype)
                                              for below, above in zip(sizes[:-1], sizes[1:]))
        self.prior = torch.nn.Parameter(torch.zeros(layers[-1], dtype=dtype))

    def parameters(self):
        return [*self.recognition.parameters(), *self.generative.parameters(), self.prior]

    def sample_q(self, x, uniforms):
        """(hs, log q(h | x)): h_l = [u_l < sigmoid(f_l(h_{l-1}))] bottom up, the first layer's logits computed once
        per image. x: (N, D); uniforms: (k, N, J_1 + ... + J_L). No gradient flows through the samples."""
        hs, log_q, below, start = [], 0, x, 0
        for net, size in zip(self.recognition, self.layers):
            logits = net(below)
            h = (uniforms[..., start:start + size] < torch.sigmoid(logits.detach())).to(logits.dtype)
            log_q = log_q + bernoulli_log_prob(h, logits)
            hs.append(h)
            below, start = h, start + size
        return hs, log_q

    def log_joint(self, x, hs):
        """log p(x, h) = log p(h_L) + sum_l log p(h_{l-1} | h_l), h_0 = x: (k, N)."""
        log_p = bernoulli_log_prob(hs[-1], self.prior)
        for net, below, h in zip(self.generative, [x, *hs[:-1]], hs):
            log_p = log_p + bernoulli_log_prob(below, net(h))
        return log_p


def leave_one_out_bounds(log_w):
    """L_{-i} = log (1/k) (sum_{j != i} w_j + exp(mean_{j != i} log w_j)), as algorithms/binary/vimco.py's:
    replaced[i, j] = log w_j, but log w_i -> the others' mean. log_w: (k, N) -> (k, N)."""
    k = log_w.shape[0]
    others_mean = (log_w.sum(0) - log_w) / (k - 1)
    diagonal = torch.eye(k, dtype=torch.bool).unsqueeze(-1)                                  # (k, k, 1)
    replaced = torch.where(diagonal, others_mean.unsqueeze(1), log_w.unsqueeze(0))            # (k, k, N)
    return torch.logsumexp(replaced, 1) - math.log(k)


def vimco_surrogate(model, x, uniforms):
    """(the VIMCO surrogate loss, L_k per image): -mean_n (L + sum_i detach(L - L_{-i}) log q(h_i | x)), L the
    k-sample bound log mean_i w_i. Its gradient is VIMCO's: phi's through the score term and through log w's
    -log q, theta's through log w. x: (N, D); uniforms: (k, N, J_1 + ... + J_L)."""
    hs, log_q = model.sample_q(x, uniforms)
    log_w = model.log_joint(x, hs) - log_q
    bound = torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])
    with torch.no_grad():
        signal = bound - leave_one_out_bounds(log_w)
    return -(bound + (signal * log_q).sum(0)).mean(), bound.detach()


class TorchVIMCO:
    """VIMCO with k samples per image by autodiff of vimco_surrogate, one Adam over theta and phi."""

    def __init__(self, model, lr=1e-3, k=5):
        self.model, self.k = model, k
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, x):
        uniforms = torch.rand(self.k, x.shape[0], sum(self.model.layers), dtype=x.dtype)
        loss, _ = vimco_surrogate(self.model, x, uniforms)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
