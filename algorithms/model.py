"""The Helmholtz machine shared by both algorithms (write-up, introduction and section 1.1).

Recognition network  q_phi(z | x) = N(z; mu_phi(x), diag exp(log_var_phi(x)))
Generative network   p_theta(x | z) = Bernoulli(x; sigmoid(f_theta(z))),   prior p(z) = N(0, I)

The recognition MLP ends in 2J outputs: the first J are the mean, the last J the log-variance
(equivalent to two linear heads on the last hidden layer). The generative MLP ends in D logits.

Two things plug in without changing this file: the likelihood (any object with nn/densities.py::Bernoulli's five
methods, such as the continuous Bernoulli) and heads, layers appended to the recognition network that bound its
outputs (nn/heads.py). The caller composes them; algorithms/__init__.py names those a run can ask for.
"""
import numpy as np

from nn import MLP, Bernoulli


class Networks:
    """What every Helmholtz machine (this one, and the binary one of algorithms/binary/model.py) does with the networks
    its networks() names: their parameters and gradients, keyed 'network.layer.name'."""

    def named_parameters(self):
        """('recognition.0.W', parameter, gradient), ... for every network."""
        for net_name, net in self.networks().items():
            for name, param, grad in net.named_parameters():
                yield f"{net_name}.{name}", param, grad

    def parameters(self):
        return {name: param for name, param, _ in self.named_parameters()}

    def gradients(self, prefix=""):
        """Gradients keyed like parameters(); with a prefix ("recognition." or "generative."), those networks' only."""
        return {name: grad for name, _, grad in self.named_parameters() if name.startswith(prefix)}

    def pairs(self, prefix=""):
        """(parameter, gradient) of the networks whose names start with prefix: what an optimizer is built on."""
        return [(param, grad) for name, param, grad in self.named_parameters() if name.startswith(prefix)]

    def load_parameters(self, arrays):
        for name, param, _ in self.named_parameters():
            param[...] = arrays[name]


class HelmholtzMachine(Networks):
    latent = "gaussian"       # the binary model is algorithms/binary/model.py

    def __init__(self, rng, data_dim=784, latent_dim=2, hidden=(500, 500), activation="softplus",
                 dtype=np.float32, likelihood=None, heads=()):
        hidden = list(hidden)
        self.data_dim, self.latent_dim, self.dtype = data_dim, latent_dim, np.dtype(dtype)
        self.likelihood = Bernoulli() if likelihood is None else likelihood
        self.recognition = MLP([data_dim, *hidden, 2 * latent_dim], activation, rng, dtype)
        self.recognition.layers.extend(heads)
        self.generative = MLP([latent_dim, *reversed(hidden), data_dim], activation, rng, dtype)

    def split(self, out):
        """(N, 2J) recognition output -> mean (N, J), log_var (N, J)."""
        return out[:, :self.latent_dim], out[:, self.latent_dim:]

    def encode(self, x):
        """mean, log_var of q_phi(z | x), keeping nothing for backward. x: (N, D) -> (N, J), (N, J)."""
        return self.split(self.recognition(x))

    def decode(self, z):
        """Logits f_theta(z) of p_theta(x | z), keeping nothing for backward. z: (N, J) -> (N, D)."""
        return self.generative(z)

    def noise(self, rng, k):
        """The standard normal noise eps of k samples z = mu + sigma eps for one image (Eq. (8)): (k, J)."""
        return rng.standard_normal((k, self.latent_dim), dtype=self.dtype)

    def decoder_output(self):
        """The Linear layer that makes p(x | z)'s logits (whose bias --output-bias pixel-means sets)."""
        return self.generative.layers[-1]

    def networks(self):
        return {"recognition": self.recognition, "generative": self.generative}



def reparameterize(mean, log_var, eps):
    """z = mu + sigma * eps with sigma = exp(log_var / 2) (write-up Eq. (8)).

    mean, log_var: (N, J); eps: (S, N, J) -> z: (S, N, J), one sample per noise draw.
    """
    return mean + np.exp(0.5 * log_var) * eps


def reparameterize_backward(dz, log_var, eps):
    """Chain rule through Eq. (8) (derivations/1.3-aevb.md, Eq. (A5)), for any scalar loss:
    d loss/d mu = sum_s d loss/d z^(s),  d loss/d log_var = sum_s d loss/d z^(s) * eps^(s) * sigma / 2.

    dz, eps: (S, N, J); log_var: (N, J) -> dmean (N, J), dlog_var (N, J).
    """
    sigma = np.exp(0.5 * log_var)
    return dz.sum(axis=0), 0.5 * sigma * (dz * eps).sum(axis=0)


def reconstruction_loss(model, x, z, input_grad):
    """-(1/(S N)) sum_{s, n} log p_theta(x_n | z_sn): minus the reconstruction term of Eq. (3) and Eq. (9),
    averaged over the S samples and the minibatch, and its backward through the generative network
    (the gradients of Eqs. (W3) and (A4) with the sign flipped, and (A4)'s divided by N), which writes theta's
    gradients into the network's grads.

    x: (N, D); z: (S, N, J). Returns (value, dz), dz: (S, N, J) the gradient of value w.r.t. z, which is
    -g^(s)_n / (S N) with g of derivations/1.3-aevb.md, or None with input_grad=False (the wake phase, where
    z carries no parameter).
    """
    n_samples, batch, latent = z.shape
    logits, caches = model.generative.forward(z.reshape(n_samples * batch, latent))
    targets = x if n_samples == 1 else np.tile(x, (n_samples, 1))
    log_likelihood = model.likelihood.log_likelihood(targets, logits)                # (S N,)
    dlog_likelihood = np.full(n_samples * batch, -1.0 / (n_samples * batch), dtype=logits.dtype)
    _, dlogits = model.likelihood.backward(dlog_likelihood, targets, logits)
    dz = model.generative.backward(dlogits, caches, input_grad=input_grad)
    return -float(log_likelihood.mean()), None if dz is None else dz.reshape(z.shape)
