"""The two kinds of latent a run can have (--latent), and everything that differs between them: the defaults, the
settings that make no sense together, the model, the memory a training step needs, and what the exact evaluation can
take. Settings.latent_kind is the one place a run's kind is looked up; the rest of the harness asks the kind."""
from algorithms import ENUMERABLE, HEADS, load, why_not_enumerable
from algorithms.binary.model import BinaryHelmholtzMachine
from algorithms.model import HelmholtzMachine
from experiments.errors import Fault

# the explorer's true posteriors (experiments/outputs/explorer.py): images, and lattice points a side
EXPLORED, LATTICE = 300, 241


class GaussianLatents:
    """z ~ N(0, I) of --latent-dim dimensions, the write-up's model (algorithms/model.py)."""

    defaults = {}
    explorable = True           # the latent explorer draws a 2-D Gaussian latent's plane (outputs/explorer.py)

    def check(self, values, given):
        """Refuses, in one line, settings of a Gaussian run that make no sense together (values: a dict, in place)."""
        floor, ceiling = values["log_var_floor"], values["log_var_ceiling"]
        if floor is not None and ceiling is not None and floor >= ceiling:
            raise Fault(f"--log-var-floor {floor} and --log-var-ceiling {ceiling}: the floor must lie below the "
                        "ceiling")

    def build(self, settings, rng, data_dim):
        """The model, with the likelihood and the bounded heads its settings name."""
        heads = [load(path)(settings.latent_dim, getattr(settings, name)) for name, path in HEADS.items()
                 if getattr(settings, name) is not None]
        return HelmholtzMachine(rng, data_dim=data_dim, latent_dim=settings.latent_dim, hidden=settings.hidden,
                                activation=settings.activation, likelihood=settings.likelihood_class(),
                                heads=heads)

    def stochastic_steps(self, settings, data_dim):
        """(below, q's outputs, p's inputs) of each stochastic step, for the memory estimate: x to a Gaussian's mean
        and log-variance, and z back to x."""
        return [(data_dim, 2 * settings.latent_dim, settings.latent_dim)]

    def why_not_exact(self, settings):
        """Why the exact log p(x) (by quadrature over the plane) cannot evaluate this run, or None when it can."""
        if settings.latent_dim != 2:
            return (f"the exact log p(x) is computed for a 2-D latent (or one layer of binary units) only; this run's "
                    f"latent has {settings.latent_dim} dimensions")
        return None

    def exact_extensions(self):
        return ["exact", "explorer"]

    def exact_memory(self, settings, width):
        """Bytes the exact evaluation holds: its 1000 samples per image for 20 images at once, and the true posteriors
        of the explorer's 300 images on a lattice of 241^2 points (its widest squares, for posteriors far out, are not
        counted)."""
        images = min(EXPLORED, settings.test_size)
        return 2 * 4 * 20000 * width + 4 * 8 * images * LATTICE ** 2


class BinaryLatents:
    """Layers of binary units, --layers bottom up: the original Helmholtz machine (algorithms/binary/model.py)."""

    # a linear SBN of one layer of 200 units (the NVIL and RWS papers' SBN 200)
    defaults = {"layers": [200], "hidden": [], "activation": "tanh"}
    explorable = False

    def check(self, values, given):
        """The latent dimension is recorded as the first layer's size (what figures and unit activities show)."""
        if not values["layers"]:
            raise Fault("--layers: a binary machine needs at least one stochastic layer")
        values["latent_dim"] = values["layers"][0]

    def build(self, settings, rng, data_dim):
        return BinaryHelmholtzMachine(rng, data_dim=data_dim, layers=settings.layers, hidden=settings.hidden,
                                      activation=settings.activation)

    def stochastic_steps(self, settings, data_dim):
        return [(below, above, above) for below, above in zip([data_dim, *settings.layers[:-1]], settings.layers)]

    def why_not_exact(self, settings):
        reason = why_not_enumerable(settings.layers)
        if reason:
            return (f"the exact log p(x) of binary latents sums over every state of one layer of at most {ENUMERABLE} "
                    f"units, and this run's cannot be enumerated: {reason}")
        return None

    def exact_extensions(self):
        return ["binary-exact"]

    def exact_memory(self, settings, width):
        """Bytes the enumeration holds: blocks of CHUNK states of every test image (algorithms/binary/exact.py)."""
        from algorithms.binary.exact import CHUNK     # imported here: only a binary run loads the enumeration
        return 3 * 4 * CHUNK * settings.test_size


LATENTS = {"gaussian": GaussianLatents(), "binary": BinaryLatents()}
