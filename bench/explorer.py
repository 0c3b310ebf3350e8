"""The latent explorer's size and speed in headless Chromium: python bench/explorer.py PAGE.html [--repeats N]

Prints the file's size (and how much of it each run's decoder weights take), the time from asking for the page to its
explorer being ready (the file read, the arrays unpacked, every plane drawn), and the time to decode one z and draw
the image with the plane, as a hover does: median and 95th percentile over N random points of each run's plane, and
the decode alone beside it. Needs Debian's chromium and chromium-driver and the selenium package.
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from experiments.outputs.explorer import MARK, unpack  # noqa: E402

TIMING = """
const [index, repeats, done] = arguments, panel = window.explorer.panels[index], hover = [], decode = [];
let seed = 1;
const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
for (let r = 0; r < repeats; r++) {
  const z = [(2 * random() - 1) * panel.half, (2 * random() - 1) * panel.half];
  let t = performance.now();
  panel.hover(z);
  hover.push(performance.now() - t);
  t = performance.now();
  window.explorer.decode(index, z[0], z[1]);
  decode.push(performance.now() - t);
}
done({hover, decode});
"""


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    text = args.page.read_text()
    data = json.loads(text.split(MARK)[1].split("</script>")[0])
    print(f"{args.page}: {len(text.encode()) / 1e6:.2f} MB")
    for run in data["runs"]:
        weights = sum(len(layer[key]["data"]) for layer in run["decoder"] for key in ("W", "b"))
        parameters = sum(unpack(layer[key]).size for layer in run["decoder"] for key in ("W", "b"))
        print(f"  {run['name']}: decoder {parameters} float32 parameters, {weights / 1e6:.2f} MB packed "
              f"({4 * parameters / 1e6:.2f} MB raw)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        began = time.perf_counter()
        driver.get(args.page.resolve().as_uri())
        ready = driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                            "window.explorer.ready.then(done);")
        print(f"load: {time.perf_counter() - began:.2f} s from the request to ready (unpacking and drawing "
              f"{ready['seconds']:.2f} s of it)")
        for index, run in enumerate(data["runs"]):
            timings = driver.execute_async_script(TIMING, index, args.repeats)
            print(f"  {run['name']}: hover (decode and draw) median {percentile(timings['hover'], 0.5):.2f} ms, "
                  f"95th percentile {percentile(timings['hover'], 0.95):.2f} ms; decode alone median "
                  f"{percentile(timings['decode'], 0.5):.2f} ms ({args.repeats} points)")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
