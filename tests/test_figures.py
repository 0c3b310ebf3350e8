"""The figures put things where they say: tiles with gaps, the manifold's orientation and range, one colour per
class (experiments/outputs/figures.py, experiments/outputs/write.py); and every figure run.py draws is rendered for
real by a test that reads it, though the suite leaves the rest unrendered (tests/conftest.py::figures_unrendered)."""
import ast
from pathlib import Path

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


ROOT = Path(__file__).resolve().parent.parent
EACH_OUTPUT = "tests/test_run.py::test_each_algorithm_writes_every_output"
RENDERED_BY = {          # each function that saves a figure of a run, and the test that renders it and reads the PNG
    "figures.save_reconstructions": EACH_OUTPUT, "figures.plot_lk": EACH_OUTPUT, "figures.plot_losses": EACH_OUTPUT,
    "figures.plot_latent_scatter": EACH_OUTPUT, "figures.save_manifold": EACH_OUTPUT,
    "figures.plot_diagnostics": EACH_OUTPUT,
    "figures.plot_gaps": "tests/test_run.py::test_a_2d_run_adds_the_exact_evaluation_and_run_exact_redoes_it",
    "figures.plot_posteriors": "tests/test_run.py::test_a_2d_run_adds_the_exact_evaluation_and_run_exact_redoes_it",
    "exact_kl.draw_units": "tests/test_bars_runs.py::test_a_bars_run_writes_a_run_folder_with_the_exact_kl_in_bits",
    "binary_exact.draw_states": "tests/test_binary_runs.py::test_vimco_trains_and_ends_with_the_exact_evaluation",
}


def figure_savers():
    """module.function for every function in experiments/outputs/ that calls savefig."""
    found = set()
    for path in (ROOT / "experiments" / "outputs").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "savefig"
                    for call in ast.walk(node)):
                found.add(f"{path.stem}.{node.name}")
    return found


def test_every_figure_of_a_run_is_rendered_for_real_by_a_test_that_reads_it():
    """The suite saves figures unrendered (tests/conftest.py::figures_unrendered), so a figure that fails only when
    drawn would pass everywhere but in the tests named here, which render inside rendered_figures() and read the PNG's
    size. A new figure needs its line here."""
    assert figure_savers() == set(RENDERED_BY)
    for test in set(RENDERED_BY.values()):
        file, name = test.split("::")
        source = (ROOT / file).read_text()
        assert f"def {name}(" in source and "with rendered_figures():" in source, test
