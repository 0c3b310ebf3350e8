"""The page you can touch (experiments/outputs/bars_page.py, bars_page.js) in a real browser, headless Chromium driven
by Selenium, as tests/test_explorer.py drives the latent explorer: the page's P_model of every image, the posterior and
q of the states it lists for a clicked image, and what the generative network draws for the units a click toggles,
each against Python's exact numbers (computed here another way: a loop over the states, scored by
algorithms/binary/model.py). Without Chromium, its driver or Selenium the browser tests say so and are skipped. The
builder for a run folder and its refusals need no browser."""
from pathlib import Path

import numpy as np
import pytest

import run
from algorithms.binary.exact import enumerate_joint
from algorithms.binary.model import score_p, score_q
from experiments.data.bars import bars
from experiments.harness.training import trained_model
from experiments.outputs.bars_page import main as build_page
from nn.functional import sigmoid
from test_explorer import headless_chromium

ROOT = Path(run.__file__).resolve().parent
SHORT = ["--epochs", "1", "--train-size", "3000", "--test-size", "100", "--eval-train-size", "100"]


@pytest.fixture(scope="module")
def bars_run(tmp_path_factory):
    """A short wake-sleep run on the bars (configs/bars.toml, 3000 images): its folder, model and the exact numbers of
    the support, most probable image first (the page's order)."""
    out = tmp_path_factory.mktemp("bars") / "run"
    assert run.main(["wake-sleep", "--config", str(ROOT / "configs" / "bars.toml"), *SHORT, "--out", str(out)]) == 0
    model, _ = trained_model(out / "checkpoint.npz")
    data = bars()
    order = np.argsort(-data.probabilities, kind="stable")
    images, p_data = data.images[order], data.probabilities[order]
    measured = enumerate_joint(model, images, posterior=True)
    return {"out": out, "model": model, "images": images, "p_data": p_data, "log_px": measured.log_px,
            "kl": measured.kl}


@pytest.fixture(scope="module")
def page(bars_run):
    driver = headless_chromium(bars_run["out"] / "bars.html", width=1400)
    yield driver
    driver.quit()


def joint_and_q(model, image, state):
    """log p(x, h) and log q(h | x) of one joint state (bit j of state is unit j, the middle units first), scored by
    model.py's score_p and score_q in float64."""
    bits = (state >> np.arange(sum(model.layers))) & 1
    edges = np.cumsum([0, *model.layers])
    hs = [bits[a:b].astype(np.float64)[None, None] for a, b in zip(edges[:-1], edges[1:])]
    return (score_p(model, image[None], hs, keep=False).total[0, 0],
            score_q(model, image[None], hs, keep=False).total[0, 0])


def click(driver, css):
    element = driver.find_element("css selector", css)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def test_every_image_is_shown_with_p_data_and_the_exact_p_model(bars_run, page):
    cards = page.execute_script("return [...document.querySelectorAll('#images .image')].map((c) => "
                                "[c.dataset.pData, c.dataset.pModel, c.querySelector('.model-text').textContent]);")
    assert len(cards) == 30
    p_model = np.exp(bars_run["log_px"])
    for (shown_data, shown_model, text), expected_data, expected_model in zip(cards, bars_run["p_data"], p_model):
        assert float(shown_data) == expected_data
        assert float(shown_model) == pytest.approx(expected_model, rel=1e-9)
        assert text == f"P_model {expected_model:.4f}"
    data = bars()
    log_px = np.empty(30)
    log_px[np.argsort(-data.probabilities, kind="stable")] = bars_run["log_px"]          # in the support's own order
    assert f"KL(P_data || P_model) = {data.kl_bits(log_px):.4f} bits" in page.find_element("id", "kl").text


def test_a_click_on_an_image_shows_its_exact_posterior_and_q(bars_run, page):
    model, chosen = bars_run["model"], 7
    before = page.find_element("id", "chosen-about").text
    click(page, f"#images .image[data-index='{chosen}']")
    assert page.execute_script("return window.bars.page.chosen;") == chosen
    assert page.find_element("css selector", f"#images .image[data-index='{chosen}']").get_attribute(
        "aria-pressed") == "true"
    about = page.find_element("id", "chosen-about").text
    assert about != before and f"KL(q(h | x) || p(h | x)) = {bars_run['kl'][chosen]:.4f} nats" in about
    rows = page.execute_script("return [...document.querySelectorAll('#states tbody tr')].map((r) => "
                               "[Number(r.dataset.state), Number(r.dataset.posterior), Number(r.dataset.q)]);")
    image, log_px = bars_run["images"][chosen], bars_run["log_px"][chosen]
    scored = [joint_and_q(model, image, state) for state in range(512)]
    posterior = np.exp(np.array([joint for joint, _ in scored]) - log_px)
    assert [state for state, _, _ in rows] == list(np.argsort(-posterior, kind="stable")[:len(rows)])
    for state, shown_posterior, shown_q in rows:
        assert shown_posterior == pytest.approx(posterior[state], rel=1e-5, abs=1e-12)
        assert shown_q == pytest.approx(np.exp(scored[state][1]), rel=1e-5, abs=1e-12)


def test_toggling_units_changes_what_the_generative_network_draws(bars_run, page):
    model = bars_run["model"]
    W1, b1 = (model.generative[0].layers[0].params[key].astype(np.float64) for key in ("W", "b"))
    W2, b2 = (model.generative[1].layers[0].params[key].astype(np.float64) for key in ("W", "b"))
    page.execute_script("window.bars.setUnits([0, 0, 0, 0, 0, 0, 0, 0], [0]);")
    canvas = "const c = document.getElementById('drawn'); return [...c.getContext('2d').getImageData(0, 0, c.width, " \
             "c.height).data];"
    blank = page.execute_script(canvas)
    click(page, "#middle-units .unit:nth-child(3) button")
    assert page.execute_script("return window.bars.page.middle;") == [0, 0, 1, 0, 0, 0, 0, 0]
    drawn = np.array(page.execute_script("return window.bars.drawn(window.bars.page.middle);"))
    np.testing.assert_allclose(drawn, sigmoid(W1[2] + b1), rtol=1e-12)
    assert page.execute_script(canvas) != blank
    cells = page.execute_script("return [...document.querySelectorAll('#pixels td')].map((c) => c.textContent);")
    assert cells == [f"{value:.3f}" for value in sigmoid(W1[2] + b1)]
    click(page, "#top-units .unit:nth-child(1) button")
    assert page.execute_script("return window.bars.page.top;") == [1]
    shown = page.execute_script("return [...document.querySelectorAll('#middle-units .probability')].map((c) => "
                                "c.textContent);")
    assert shown == [f"p(on) {value:.3f}" for value in sigmoid(W2[0] + b2)]
    on = sigmoid(W2[0] + b2)
    states = (np.arange(256)[:, None] >> np.arange(8)) & 1
    weights = np.prod(np.where(states == 1, on, 1 - on), axis=1)
    expected = weights @ sigmoid(states @ W1 + b1)              # E[x | h_2 = 1], over the 256 middle states
    np.testing.assert_allclose(page.execute_script("return window.bars.topDrawn([1]);"), expected, rtol=1e-10)


def test_draw_it_sets_the_units_to_a_listed_state(page):
    click(page, "#images .image[data-index='3']")
    state = page.execute_script("return Number(document.querySelector('#states tbody tr').dataset.state);")
    click(page, "#states tbody tr:first-child button")
    bits = [(state >> j) & 1 for j in range(9)]
    assert page.execute_script("return window.bars.page.middle;") == bits[:8]
    assert page.execute_script("return window.bars.page.top;") == bits[8:]


def test_the_page_loads_with_no_console_error_and_no_request(bars_run, page):
    assert [entry for entry in page.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")] == []
    assert page.execute_script("return performance.getEntriesByType('resource').length;") == 0
    text = (bars_run["out"] / "bars.html").read_text()
    assert "default-src 'none'" in text and "http://" not in text and "https://" not in text


def test_the_page_is_built_again_for_a_run_folder(bars_run, tmp_path, capsys):
    assert build_page([str(bars_run["out"]), "--out", str(tmp_path / "again.html")]) == 0
    assert (tmp_path / "again.html").read_text() == (bars_run["out"] / "bars.html").read_text()
    assert build_page([str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"bars_page: error: {tmp_path / 'nothing'}: holds no checkpoint.npz, so no model to show"]
