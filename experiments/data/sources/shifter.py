"""--data shifter: the shifter problem of Dayan, Hinton, Neal & Zemel (1995), 4 x 8 images, drawn afresh every epoch and
measured exactly (experiments/data/bars.py::shifter, Eq. (H2); derivations/1995.md)."""
from experiments.data.bars import shifter
from experiments.data.synthetic import Synthetic


class Shifter(Synthetic):
    title = "the shifter problem"
    distribution = staticmethod(shifter)
