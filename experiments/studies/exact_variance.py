"""The exact total variance of NVIL's and RLOO's phi-gradient on a minibatch, for a model with one layer of few binary
units, by summing over all 2^J states (derivations/estimators.md's "exact" beside the sampled variances; tested in
tests/test_estimators.py against the estimators' own variance by enumeration). experiments/studies/estimator_variance.py
prints it beside its samples.
"""
import numpy as np

from algorithms.binary.exact import state_terms, states
from nn.functional import sigmoid, softplus


def jacobian_gram(model, x):
    """G_n = J_n J_n^T for every image, J_n = d eta_1(x_n) / d phi (J x phi's size): one backward pass of f_1 per logit.
    x: (N, D) -> (N, J, J), float64."""
    net, units = model.recognition[0], model.layers[0]
    grams = np.zeros((x.shape[0], units, units))
    for n in range(x.shape[0]):
        _, cache = net.forward(x[n:n + 1])
        rows_ = []
        for j in range(units):
            net.backward(np.eye(units, dtype=model.dtype)[j:j + 1], cache, input_grad=False)
            rows_.append(np.concatenate([grad.ravel() for _, _, grad in net.named_parameters()]).astype(np.float64))
        jacobian = np.array(rows_)
        grams[n] = jacobian @ jacobian.T
    return grams


def exact_moments(model, x, chunk=4096):
    """For a one-layer model, by summing over all 2^J states in chunks, per image (float64): E[l], E[l^2], u1 = E[l s],
    and S_a = E[l^a s s^T] for a = 0, 1, 2, where l = log p(x, h) - log q(h | x) and s = h - sigmoid(eta) (the score of
    log q in the logits eta = f_1(x), Eq. (S3)). The states are shared by the images, so each chunk is three products:
    with w_a = q l^a, sum_h w_a h h^T, sum_h w_a h and sum_h w_a, from which S_a = sum w_a (h - m)(h - m)^T."""
    units, n = model.layers[0], x.shape[0]
    eta = model.recognition[0](x).astype(np.float64)                                    # (N, J)
    mean_q, log_norm = sigmoid(eta), softplus(eta).sum(axis=1)
    outer, first, total = np.zeros((3, n, units * units)), np.zeros((3, n, units)), np.zeros((3, n))
    for start in range(0, 2 ** units, chunk):
        h = states(start, min(start + chunk, 2 ** units), units, model.dtype)
        logits_t, constant = state_terms(model, h)
        log_joint = x.astype(np.float64) @ logits_t.astype(np.float64) + constant.astype(np.float64)   # (N, C)
        hd = h.astype(np.float64)
        log_q = eta @ hd.T - log_norm[:, None]                                                # (N, C)
        signal, q = log_joint - log_q, np.exp(log_q)
        weights = np.stack([q, q * signal, q * signal ** 2])                                  # (3, N, C)
        outer += weights @ (hd[:, :, None] * hd[:, None, :]).reshape(len(hd), -1)
        first += weights @ hd
        total += weights.sum(axis=2)
    outer = outer.reshape(3, n, units, units)
    m = {"l": total[1], "l2": total[2], "u1": first[1] - total[1][:, None] * mean_q}
    for a in range(3):
        cross = first[a][:, :, None] * mean_q[:, None, :]
        m[f"S{a}"] = outer[a] - cross - cross.transpose(0, 2, 1) \
            + total[a][:, None, None] * mean_q[:, :, None] * mean_q[:, None, :]
    return m


def exact_variances(moments, grams, centres, passes):
    """The exact total variance (summed over phi) of NVIL's and RLOO's phi-gradient on the minibatch, from the moments:
    with Q = s^T G s, u1 = E[l s] (the mean is J^T u1 for both),
      NVIL, P one-sample estimates centred by c:  (tr G E[(l - c)^2 s s^T] - u1^T G u1) / P per image;
      RLOO, k = P:  (1/k^2)(k T + k(k - 1)(1 + c'^2) u1^T G u1) - u1^T G u1 per image, c' = 1/(k - 1),
                    T = E[l^2 Q] - 2 E[l] E[l Q] + E[B^2] E[Q], E[B^2] = Var(l)/(k - 1) + E[l]^2
    (the cross terms between two samples keep only l_i l_j: E[s] = 0); the minibatch's is the images' sum over N^2."""
    def trace(g, s):
        return np.einsum("nij,nji->n", g, s)
    signal_term = np.einsum("ni,nij,nj->n", moments["u1"], grams, moments["u1"])
    result = {"NVIL": {}, "RLOO": {}}
    n = len(grams)
    for p in passes:
        c = centres
        m2 = moments["S2"] - 2 * c[:, None, None] * moments["S1"] + c[:, None, None] ** 2 * moments["S0"]
        result["NVIL"][p] = float(((trace(grams, m2) - signal_term) / p).sum() / n ** 2)
        k, other = p, 1.0 / (p - 1)
        b2 = (moments["l2"] - moments["l"] ** 2) * other + moments["l"] ** 2
        t = trace(grams, moments["S2"]) - 2 * moments["l"] * trace(grams, moments["S1"]) \
            + b2 * trace(grams, moments["S0"])
        per_image = (k * t + k * (k - 1) * (1 + other ** 2) * signal_term) / k ** 2 - signal_term
        result["RLOO"][p] = float(per_image.sum() / n ** 2)
    return result
