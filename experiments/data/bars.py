"""The two data distributions of the 1995 Helmholtz machine papers, exactly (derivations/1995.md, Eqs. (H1)-(H2)):
every image of the support with its probability, and samples drawn from them (an infinite data set).

    bars()      4 x 4 images (Hinton, Dayan, Frey & Neal 1995): an orientation, vertical with probability 2/3 and
                horizontal with 1/3, then each of its 4 bars on with probability 0.2; 30 distinct images, since the
                blank image and the full one come from both orientations
    shifter()   4 x 8 images (Dayan, Hinton, Neal & Zemel 1995): a row of 8 pixels, each on with probability 0.2; rows
                1 and 2 are that row, rows 3 and 4 the same row shifted cyclically by one pixel, left or right with
                probability 1/2 each; 508 distinct images (4 rows are unchanged by a shift of two pixels, so their
                left and right images coincide)

Images are rows of pixels read row by row (image[r * width + c] is row r, column c), float64 0/1.
"""
from dataclasses import dataclass
from itertools import product

import numpy as np

BARS = {"side": 4, "vertical": 2 / 3, "bar_on": 0.2}
SHIFTER = {"width": 8, "pixel_on": 0.2, "left": 0.5}


@dataclass
class Distribution:
    """A distribution over binary images, exactly: images (S, D) float64, each once, and their probabilities (S,),
    summing to 1; shape (rows, cols); causes (S, C): for each image, the probability of each hidden cause given the
    image (the bars' orientation, the shifter's direction), for measuring what a unit has learned."""
    name: str
    images: np.ndarray
    probabilities: np.ndarray
    shape: tuple
    causes: np.ndarray = None

    def sample(self, rng, n):
        """n images drawn independently from the distribution (rows of the support, by inverse CDF): (n, D) float32."""
        return self.images[self.sample_rows(rng, n)].astype(np.float32)

    def sample_rows(self, rng, n):
        """The support's rows of n independent draws (n,), by inverse CDF of n uniforms from rng."""
        cumulative = np.cumsum(self.probabilities)
        return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), len(cumulative) - 1)

    def entropy_bits(self):
        """H(P_data) in bits."""
        return float(-(self.probabilities * np.log2(self.probabilities)).sum())

    def kl_bits(self, log_px):
        """KL(P_data || P_model) = sum_x P_data(x) (log P_data(x) - log P_model(x)) in bits (Eq. (H3)), from the model's
        exact log p(x) in nats of every image of the support (S,)."""
        return float((self.probabilities * (np.log(self.probabilities) - log_px)).sum() / np.log(2))


def merged(generated):
    """Sums the probabilities of equal images: generated is [(image tuple, probability, cause index)], giving
    (images (S, D), probabilities (S,), P(cause | image) (S, C)) in the order first seen."""
    index, probabilities, causes = {}, [], []
    count = 1 + max(cause for _, _, cause in generated)
    for image, probability, cause in generated:
        if image not in index:
            index[image] = len(index)
            probabilities.append(0.0), causes.append(np.zeros(count))
        probabilities[index[image]] += probability
        causes[index[image]][cause] += probability
    probabilities, causes = np.array(probabilities), np.array(causes)
    return np.array(list(index), dtype=np.float64), probabilities, causes / probabilities[:, None]


def bars(side=BARS["side"], vertical=BARS["vertical"], bar_on=BARS["bar_on"]):
    """The bars problem (Eq. (H1)): P(x) = sum_o P(o) prod_b bar_on^{s_b} (1 - bar_on)^{1 - s_b} over the orientation
    o and the bars' states s that draw x. Causes: [P(vertical | x), P(horizontal | x)]."""
    generated = []
    for orientation, prior in ((0, vertical), (1, 1 - vertical)):
        for states in product((0, 1), repeat=side):
            image = np.zeros((side, side))
            for bar, on in enumerate(states):
                if on:
                    if orientation == 0:
                        image[:, bar] = 1          # a vertical bar is a column
                    else:
                        image[bar, :] = 1          # a horizontal bar is a row
            probability = prior * np.prod([bar_on if on else 1 - bar_on for on in states])
            generated.append((tuple(image.ravel()), probability, orientation))
    images, probabilities, causes = merged(generated)
    return Distribution("bars", images, probabilities, (side, side), causes)


def shifter(width=SHIFTER["width"], pixel_on=SHIFTER["pixel_on"], left=SHIFTER["left"]):
    """The shifter problem (Eq. (H2)): a row r, P(r) = prod_c pixel_on^{r_c} (1 - pixel_on)^{1 - r_c}; the image is
    rows (r, r, s, s) with s = r shifted cyclically one pixel left (s_c = r_{c+1}) with probability `left`, else right
    (s_c = r_{c-1}). Causes: [P(left | x), P(right | x)]."""
    generated = []
    for row in product((0, 1), repeat=width):
        row = np.array(row, dtype=np.float64)
        weight = np.prod(np.where(row == 1, pixel_on, 1 - pixel_on))
        for direction, prior in ((0, left), (1, 1 - left)):
            shifted = np.roll(row, -1 if direction == 0 else 1)
            generated.append((tuple(np.concatenate([row, row, shifted, shifted])), prior * weight, direction))
    images, probabilities, causes = merged(generated)
    return Distribution("shifter", images, probabilities, (4, width), causes)


DISTRIBUTIONS = {"bars": bars, "shifter": shifter}
