"""The original Helmholtz machine: layers of binary stochastic units (a sigmoid belief network) and the estimators
that train it without reparameterization (derivations/binary.md).

    model.py        the model; sampling q, scoring p and q, and the two backward pieces every estimator is built on
    wake_sleep.py   classic wake-sleep                   rws.py     reweighted wake-sleep
    nvil.py         NVIL: REINFORCE with baselines        vimco.py   VIMCO: L_k with leave-one-out baselines
    rloo.py         RLOO: k samples, each one's baseline the others' mean
    disarm.py       ARM and DisARM: antithetic pairs        concrete.py  the binary Concrete relaxation, reparameterized
    exact_ml.py     maximum likelihood by the exact gradient (every joint state enumerated)
    evaluation.py   the log-weights of evaluation, fused for speed (the same samples as model.py's)
    exact.py        log p(x) by enumerating every state of one layer of at most 20 units, or of all layers together

The bound L_k of algorithms/bound.py evaluates a binary model as it does a Gaussian one (the model draws its own noise
and gives its own log-weights).
"""
