"""The latent explorer (experiments/outputs/explorer.py, explorer.js) in a real browser, headless Chromium driven by
Selenium: its JavaScript decoder against NumPy's, a real click on a test point against the run's own image and numbers,
the keyboard, and a load with no console error and no request. Without Chromium, its driver or Selenium these tests
say so and are skipped (.ci/run installs them: apt-get install chromium chromium-driver; pip install selenium). The
refusals need no browser."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import run
from experiments.harness.runner import DataCache
from experiments.outputs.explorer import load_run, numbers_of, pack, unpack
from experiments.outputs.page_file import is_stream
from test_run_faults import snapshot

RUN = ["--epochs", "2", "--train-size", "300", "--test-size", "40", "--eval-train-size", "20", "--eval-k", "5",
       "--hidden", "32", "16", "--eval-every", "2"]
ROOT = Path(run.__file__).resolve().parent


def browser_missing():
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install selenium)"
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return f"{' and '.join(missing)} not found (apt-get install chromium chromium-driver)" if missing else None


def headless_chromium(page, width, height=1100):
    """A headless Chromium (through selenium's driver) that has opened the local file page, keeping the browser's
    console log; skips the test where browser_missing() says why it cannot run."""
    reason = browser_missing()
    if reason:
        pytest.skip(f"no browser to test the page in: {reason}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.get(page.as_uri())
    return driver


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished 2-D runs made without the exact evaluation (so explore computes their numbers; a run with it
    writes its own explorer.html, tests/test_run.py::test_a_2d_run_adds_the_exact_evaluation_and_run_exact_redoes_it),
    and the explorer of both."""
    root = tmp_path_factory.mktemp("explorer")
    for algorithm in ("aevb", "wake-sleep"):
        assert run.main([algorithm, *RUN, "--no-exact", "--out", str(root / algorithm)]) == 0
    assert run.main(["explore", str(root / "aevb"), str(root / "wake-sleep"), "--out", str(root / "page.html")]) == 0
    return root


@pytest.fixture(scope="module")
def page(runs):
    driver = headless_chromium(runs / "page.html", width=1500)
    driver.execute_async_script("const done = arguments[arguments.length - 1]; window.explorer.ready.then(done);")
    yield driver
    driver.quit()


def loaded(folder):
    """(settings, model, test images, labels, bounds) of a run, as the explorer reads it."""
    run = load_run(folder, DataCache())
    return run["settings"], run["model"], run["test"], run["labels"], run["bounds"]


def click_at(driver, point):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(round(point["x"]), round(point["y"])).click()
    actions.perform()


def test_pack_is_lossless():
    for array in (np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32), np.arange(300, dtype=np.uint8),
                  np.array([-np.inf, 0.0, 1e-300, np.nan])):
        np.testing.assert_array_equal(unpack(pack(array)), array)


@pytest.mark.parametrize("index, algorithm", [(0, "aevb"), (1, "wake-sleep")])
def test_the_pages_decoder_is_numpys_to_1e5_per_pixel(runs, page, index, algorithm):
    _, model, *_ = loaded(runs / algorithm)
    zs = [(0.0, 0.0), (0.5, -0.3), (-2.2, 1.7), (3.9, 3.9), (-6.0, 0.25)]
    expected = model.likelihood.mean(model.decode(np.array(zs, np.float32)))
    for z, pixels in zip(zs, expected):
        decoded = np.array(page.execute_script(f"return window.explorer.decode({index}, {z[0]}, {z[1]});"))
        assert decoded.shape == pixels.shape and np.abs(decoded - pixels).max() < 1e-5, z


def test_a_click_on_a_point_shows_its_image_and_the_runs_numbers(runs, page):
    """A mouse click on the most isolated code of the AEVB panel (no other within 8 pixels) chooses that test image in
    both panels: the original drawn there is the test image, and each panel's numbers are its run's exact evaluation's."""
    _, model, test, labels, bounds = loaded(runs / "aevb")
    means = model.encode(test)[0].astype(np.float64)
    apart = np.sqrt(((means[:, None] - means[None]) ** 2).sum(-1)) + np.eye(len(means)) * 1e9
    chosen = int(np.argmax(apart.min(axis=1)))
    half = page.execute_script("return window.explorer.panels[0].half;")
    assert apart[chosen].min() / (2 * half) * 440 > 8
    page.execute_script("window.explorer.choose(0); window.explorer.panels[0].plane.scrollIntoView();")
    click_at(page, page.execute_script(f"return window.explorer.panels[0].toClient({means[chosen, 0]}, "
                                       f"{means[chosen, 1]});"))
    assert page.execute_script("return window.explorer.chosen;") == chosen
    drawn = np.array(page.execute_script(
        "const c = window.explorer.panels[1].original, d = c.getContext('2d').getImageData(0, 0, c.width, c.height);"
        "const out = []; for (let r = 0; r < 28; r++) for (let q = 0; q < 28; q++)"
        "  out.push(d.data[4 * ((4 * r + 2) * c.width + 4 * q + 2)]); return out;"))
    np.testing.assert_array_equal(drawn, np.round(test[chosen] * 255))
    for index, algorithm in enumerate(("aevb", "wake-sleep")):
        settings, model, test, _, bounds = loaded(runs / algorithm)
        numbers = numbers_of(model, test, bounds, settings.seed, log=lambda line: None)
        shown = page.execute_script(f"const cells = window.explorer.panels[{index}].numbers.querySelectorAll("
                                    "'[data-quantity]'); return Object.fromEntries([...cells].map("
                                    "(cell) => [cell.dataset.quantity, cell.textContent]));")
        log_px, elbo = numbers["log_px"][chosen], numbers["elbo"][chosen]
        assert shown == {"log_px": f"{log_px:.2f}", "elbo": f"{elbo:.2f}", "l100": f"{numbers['l100'][chosen]:.2f}",
                         "kl": f"{log_px - elbo:.2f}"}


def test_the_keyboard_moves_the_decoded_point_and_chooses(page):
    from selenium.webdriver.common.keys import Keys
    plane = page.execute_script("return window.explorer.panels[1].plane;")
    page.execute_script("window.explorer.panels[1].hover([0, 0]);")
    plane.send_keys(Keys.ARROW_RIGHT, Keys.SHIFT + Keys.ARROW_UP)
    cursor = page.execute_script("return window.explorer.panels[1].cursor;")
    half = page.execute_script("return window.explorer.panels[1].half;")
    assert cursor == pytest.approx([half / 40, 5 * half / 40])
    plane.send_keys(Keys.ENTER)
    nearest = page.execute_script("const p = window.explorer.panels[1]; return p.nearest(...p.cursor)[0];")
    assert page.execute_script("return window.explorer.chosen;") == nearest
    plane.send_keys("]")
    assert page.execute_script("return window.explorer.chosen;") == (nearest + 1) % 40


def test_the_page_loads_with_no_console_error_and_no_request(runs, page):
    assert [entry for entry in page.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")] == []
    assert page.execute_script("return performance.getEntriesByType('resource').length;") == 0
    text = (runs / "page.html").read_text()
    assert "default-src 'none'" in text and "http://" not in text and "https://" not in text


def test_a_runs_own_exact_numbers_are_read_not_computed_again():
    bounds = {"exact/log_px": np.array([-3.0, -4.0, -5.0]), "exact/elbo": np.array([-3.5, -4.5, -5.5]),
              "exact/L_100": np.array([-3.1, -4.1, -5.1])}
    numbers = numbers_of(None, np.zeros((2, 4)), bounds, 0, log=None)
    assert {key: values.tolist() for key, values in numbers.items()} == {"log_px": [-3.0, -4.0], "elbo": [-3.5, -4.5],
                                                                           "l100": [-3.1, -4.1]}


def test_refusals_are_one_line_and_write_nothing(runs, tmp_path, capsys):
    assert run.main(["aevb", *RUN, "--latent-dim", "3", "--no-exact", "--out", str(tmp_path / "three")]) == 0
    (tmp_path / "empty").mkdir()
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "checkpoint.npz").write_bytes(b"not a checkpoint")
    cases = [([str(tmp_path / "three")], "the explorer shows a 2-D latent; this run's has 3 dimensions"),
             ([str(tmp_path / "empty")], "holds no checkpoint.npz"),
             ([str(tmp_path / "damaged")], "not a checkpoint of run.py"),
             ([str(tmp_path / "typo")], "typo: no such folder")]
    before = snapshot(tmp_path)
    for folders, expected in cases:
        capsys.readouterr()
        assert run.main(["explore", *folders, "--out", str(tmp_path / "page.html")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
    capsys.readouterr()
    (tmp_path / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    for out, expected in ((tmp_path / "no" / "such" / "page.html", "its folder"), (tmp_path, "is a folder"),
                          (tmp_path / "notes.txt", "exists and is not a latent explorer page")):
        assert run.main(["explore", str(runs / "aevb"), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
    assert snapshot(tmp_path) == before


def panel_boxes(driver, width, height=900):
    """The window resized to width x height (its inside, as the headless browser has no frame), and each panel's
    bounding rectangle with main's width and the gap between panels, in CSS pixels."""
    driver.set_window_size(width, height)
    assert driver.execute_script("return window.innerWidth;") == width
    return driver.execute_script(
        "const main = document.getElementById('runs'), style = getComputedStyle(main);"
        "return {panels: [...main.querySelectorAll('.run')].map((s) => s.getBoundingClientRect().toJSON()),"
        "        main: main.clientWidth, gap: parseFloat(style.columnGap)};")


def test_the_two_panels_sit_side_by_side_wherever_they_fit_and_stack_below(page):
    """At 1400 px the two panels share a row (same top, the second to the right of the first); at 700 px they stack;
    at any width they share a row exactly when main holds both at their natural width; a heading wrapped onto two
    lines does not put its plane below its neighbour's; and choosing another image does not change a panel's width
    (so it cannot flip the layout)."""
    heights = page.execute_script(      # as loaded: no heading is held taller than its own text needs
        "return window.explorer.panels.map(({heading}) => { const held = heading.getBoundingClientRect().height, "
        "was = heading.style.minHeight; heading.style.minHeight = ''; const own = heading.getBoundingClientRect()"
        ".height; heading.style.minHeight = was; return [held, own]; });")
    assert all(held == own for held, own in heights), heights
    try:
        wide = panel_boxes(page, 1400)
        first, second = wide["panels"]
        assert abs(first["top"] - second["top"]) < 1 and second["left"] >= first["right"], wide
        narrow = panel_boxes(page, 700)
        first, second = narrow["panels"]
        assert second["top"] >= first["bottom"] and abs(first["left"] - second["left"]) < 1, narrow
        for width in (1400, 1250, 1200, 1100, 900, 700):
            boxes = panel_boxes(page, width)
            first, second = boxes["panels"]
            fits = first["width"] + boxes["gap"] + second["width"] <= boxes["main"]
            assert (abs(first["top"] - second["top"]) < 1) == fits, (width, boxes)
        panel_boxes(page, 1400)
        planes = ("return window.explorer.panels.map((p) => p.plane.getBoundingClientRect().top);")
        heading, before = "window.explorer.panels[1].heading", page.execute_script(planes)
        page.execute_script(f"{heading}.dataset.was = {heading}.textContent;"
                            f"{heading}.textContent += ', from a folder whose name runs on and on, over two lines';"
                            "window.dispatchEvent(new Event('resize'));")
        tops = page.execute_script(planes)
        page.execute_script(f"{heading}.textContent = {heading}.dataset.was; window.dispatchEvent(new Event('resize'));")
        assert tops[0] == tops[1] > before[0] == before[1] and page.execute_script(planes) == before, (tops, before)
        widths = []
        for n in (0, 39, 7):
            page.execute_script(f"window.explorer.choose({n});")
            widths.append([box["width"] for box in panel_boxes(page, 1400)["panels"]])
        assert widths[0] == widths[1] == widths[2], widths
    finally:
        page.set_window_size(1500, 1100)


def test_a_stream_is_told_from_a_file_to_replace(tmp_path):
    fifo, regular = tmp_path / "fifo", tmp_path / "page.html"
    os.mkfifo(fifo)
    regular.write_text("mine")
    with open(regular) as handle:
        descriptor = f"/dev/fd/{handle.fileno()}"
        assert is_stream(Path(descriptor))           # a descriptor's name, though it is open on a regular file
    for path in (fifo, Path("/dev/null"), Path("/dev/stdout"), Path("/dev/no-such-stream")):
        assert is_stream(path), path                  # run.py makes no file in /dev
    for path in (regular, tmp_path / "new.html", tmp_path, *[Path("/dev/shm")] * Path("/dev/shm").is_dir()):
        assert not is_stream(path), path


def test_a_stream_that_cannot_be_opened_is_refused_in_one_line_before_any_work(runs, capsys):
    """--out /dev/stdout with stdout closed (run.py ... >&-), or a name in /dev that is no stream: refused before a
    run is read, and no file is made in /dev (as root, the atomic write's rename would have replaced the link)."""
    assert run.main(["explore", str(runs / "aevb"), "--out", "/dev/no-such-stream"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/dev/no-such-stream: not open, or cannot be written" in err, err
    assert not Path("/dev/no-such-stream").exists() and not Path("/dev/no-such-stream.tmp").exists()


def test_explore_into_a_pipe_closed_early_ends_at_once_in_one_line(runs, tmp_path):
    """python run.py explore RUN --out /dev/stdout | head -c 100: the page goes to the pipe (nothing is read back); its
    reader closes it after 100 bytes, and run.py ends within seconds, answering in one line, with no traceback."""
    with open(tmp_path / "stderr", "w+b") as errors:
        process = subprocess.Popen([sys.executable, "run.py", "explore", str(runs / "aevb"), "--out", "/dev/stdout"],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=errors)
        try:
            head = process.stdout.read(100)            # waits while the page is packed (10 s on 2 busy cores)
            process.stdout.close()
            closed = time.monotonic()
            status = process.wait(timeout=30)
            took = time.monotonic() - closed
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        errors.seek(0)
        err = errors.read().decode()
    assert head.startswith(b"<!DOCTYPE html>"), head      # only the page goes to stdout, what run.py says to stderr
    assert took < 5, took
    said = [line for line in err.splitlines() if line.startswith("run.py")]
    assert status == 2 and len(said) == 1 and "its reader closed it" in said[0], err
    assert "Traceback" not in err and "Exception" not in err and err.rstrip("\n").endswith(said[0]), err


def test_explore_to_stdout_writes_the_page_once_whatever_it_is_open_on(runs, tmp_path):
    """--out /dev/stdout with stdout redirected to a regular file (> page.html): the same bytes as the page written to
    a file, after what the file held (nothing is replaced or renamed over /dev/stdout), and run.py's lines on stderr."""
    out = tmp_path / "out.html"
    out.write_bytes(b"kept\n")
    with open(out, "ab") as handle:
        done = subprocess.run([sys.executable, "run.py", "explore", str(runs / "aevb"), str(runs / "wake-sleep"),
                               "--out", "/dev/stdout"], cwd=ROOT, stdout=handle, stderr=subprocess.PIPE, timeout=600)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert out.read_bytes() == b"kept\n" + (runs / "page.html").read_bytes()
    assert "wrote /dev/stdout" in err and "Traceback" not in err, err
    assert Path("/dev/stdout").is_symlink() or not Path("/dev/stdout").is_file()
