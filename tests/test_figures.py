"""The figures put things where they say: tiles with gaps, the manifold's orientation and range, one colour per
class (experiments/outputs/figures.py, experiments/outputs/write.py)."""
import numpy as np

from experiments.outputs.figures import class_colours, latent_grid, tile
from experiments.outputs.write import manifold_limits


def test_tiles_sit_row_major_with_a_gap_between_neighbours():
    images = np.arange(6, dtype=float)[:, None] * np.ones((6, 3 * 2))         # image n is all n, 3 x 2 pixels
    canvas = tile(images, (3, 2), rows=2, cols=3, gap=1, background=-1)
    assert canvas.shape == (2 * 3 + 1, 3 * 2 + 2)
    assert canvas[0, 0] == 0 and canvas[0, 3] == 1 and canvas[4, 0] == 3 and canvas[6, 7] == 5
    assert np.all(canvas[3, :] == -1) and np.all(canvas[:, 2] == -1)          # the gaps


def test_latent_grid_starts_top_left_at_low_z1_and_high_z2():
    grid = latent_grid(3, (-2.0, 2.0))
    np.testing.assert_array_equal(grid[0], [-2, 2])       # first tile: top left
    np.testing.assert_array_equal(grid[2], [2, 2])        # end of the top row: z1 grows to the right
    np.testing.assert_array_equal(grid[6], [-2, -2])      # bottom left: z2 grows upwards


def test_manifold_covers_the_prior_or_the_codes_whichever_reaches_further():
    inside = np.random.default_rng(0).uniform(-2, 2, (1000, 2))
    assert manifold_limits(inside) == ((-3.0, 3.0), "the prior's ±3")
    wide = np.column_stack([np.linspace(-1, 4.5, 1000), np.zeros(1000)])
    (low, high), which = manifold_limits(wide)
    assert -low == high == np.percentile(wide[:, 0], 99) and which == "the codes' 1st to 99th percentiles"


def test_every_label_gets_its_own_colour():
    index, classes, cmap = class_colours(np.array([0, 11, 9, 11, 3]))
    assert classes.tolist() == [0, 3, 9, 11] and index.tolist() == [0, 3, 2, 3, 1] and cmap.N == 4
