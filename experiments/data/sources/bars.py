"""--data bars: the bars problem of Hinton, Dayan, Frey & Neal (1995), 4 x 4 images, drawn afresh every epoch and
measured exactly (experiments/data/bars.py::bars, Eq. (H1); derivations/1995.md)."""
from experiments.data.bars import bars
from experiments.data.synthetic import Synthetic


class Bars(Synthetic):
    title = "the bars problem"
    # the page you can touch (experiments/outputs/bars_page.py) beside the exact KL
    extensions = (*Synthetic.extensions, "bars-page")
    distribution = staticmethod(bars)
