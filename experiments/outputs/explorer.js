"use strict";
// The latent explorer's page (experiments/outputs/explorer.py writes the data below it). The decoder's forward pass is
// the generative network of algorithms/model.py: affine layers with softplus, tanh or ReLU between them, and the
// likelihood's mean at the end (sigmoid for the Bernoulli; for the continuous Bernoulli, sigmoid(eta) minus
// 1/eta - 1/sinh(eta), Eq. (L8) of derivations/likelihoods.md), computed in double precision from float32 weights.

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                 "#17becf"];
const PLANE = 440, PIXELS = 4;            // the plane's size in CSS pixels; screen pixels per image pixel
const TYPES = {float32: Float32Array, float64: Float64Array, uint8: Uint8Array};

async function unpack(packed) {
  // explorer.py::pack's inverse: base64, inflate (the browser's own DecompressionStream), regroup each element's bytes
  const deflated = Uint8Array.from(atob(packed.data), (c) => c.charCodeAt(0));
  const stream = new Blob([deflated]).stream().pipeThrough(new DecompressionStream("deflate"));
  const planes = new Uint8Array(await new Response(stream).arrayBuffer());
  const Type = TYPES[packed.dtype], size = Type.BYTES_PER_ELEMENT, n = planes.length / size;
  const bytes = new Uint8Array(planes.length);
  for (let p = 0; p < size; p++) for (let i = 0; i < n; i++) bytes[i * size + p] = planes[p * n + i];
  return new Type(bytes.buffer);
}

function softplus(x) { return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)); }
function sigmoid(x) { return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)); }
const ACTIVATIONS = {softplus, tanh: Math.tanh, relu: (x) => Math.max(x, 0)};

function cbCorrection(eta, series) {
  // 1/eta - 1/sinh(eta) (Eq. (L4)): its series below |eta| = 1/2, where the two terms cancel (Eq. (L5))
  const a = Math.abs(eta);
  if (a < 0.5) {
    let sum = 0;
    for (let n = series.length - 1; n >= 0; n--) sum = sum * eta * eta + series[n];
    return sum * eta;
  }
  const t = Math.exp(-a);
  return Math.sign(eta) * (1 / a - 2 * t / (1 - t * t));
}

function decode(run, z1, z2) {
  // p(x | z)'s mean for one z: out = x W + b layer by layer (W is n_in x n_out, row-major), the activation between
  let x = Float64Array.of(z1, z2);
  for (const layer of run.layers) {
    const nOut = layer.b.length, out = Float64Array.from(layer.b);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i], row = i * nOut;
      for (let j = 0; j < nOut; j++) out[j] += xi * layer.W[row + j];
    }
    if (layer.activation) for (let j = 0; j < nOut; j++) out[j] = ACTIVATIONS[layer.activation](out[j]);
    x = out;
  }
  const mean = new Float64Array(x.length);
  for (let d = 0; d < x.length; d++) {
    mean[d] = sigmoid(x[d]) - (run.cbSeries ? cbCorrection(x[d], run.cbSeries) : 0);
  }
  return mean;
}

function drawImage(canvas, pixels, shape) {
  // pixels in [0, 1] (or 0-255 bytes), shape [rows, cols], PIXELS screen pixels each, white ink on black
  const [rows, cols] = shape, context = canvas.getContext("2d"), image = context.createImageData(cols, rows);
  const scale = pixels instanceof Uint8Array ? 1 : 255;
  for (let p = 0; p < rows * cols; p++) {
    const v = Math.round(pixels[p] * scale);
    image.data.set([v, v, v, 255], 4 * p);
  }
  const small = document.createElement("canvas");
  small.width = cols;
  small.height = rows;
  small.getContext("2d").putImageData(image, 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function magma(v) {
  // a dark-to-bright colour ramp for the posterior's density (v in [0, 1])
  const stops = [[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]];
  const x = Math.min(Math.max(v, 0), 1) * (stops.length - 1), i = Math.min(Math.floor(x), stops.length - 2);
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * (x - i)));
}

class Panel {
  // One run: its plane (scatter, prior circles, the decoded point, the chosen image's q) and its details
  constructor(run, explorer) {
    this.run = run;
    this.explorer = explorer;
    const means = run.mean, reach = [];
    for (let n = 0; n < means.length; n++) reach.push(Math.abs(means[n]));
    reach.sort((a, b) => a - b);
    this.half = Math.max(3.5, Math.ceil(reach[Math.floor(0.995 * (reach.length - 1))] + 0.5));
    this.cursor = [0, 0];
    this.build();
    this.drawScatter();
    this.hover(this.cursor);
  }

  build() {
    const run = this.run, section = document.createElement("section");
    section.className = "run";
    section.setAttribute("aria-label", run.name);
    section.innerHTML = `<h2></h2>
      <canvas class="plane" tabindex="0" role="application" aria-describedby="image-help"></canvas>
      <div class="row">
        <figure><canvas class="decoded" role="img" aria-label="the decoder's image at the point under the mouse"></canvas>
          <figcaption class="hover">p(x | z) under the mouse</figcaption></figure>
        <figure><canvas class="original" role="img" aria-label="the chosen test image"></canvas>
          <figcaption>test image</figcaption></figure>
        <figure><canvas class="reconstruction" role="img" aria-label="the chosen image decoded at q's mean"></canvas>
          <figcaption>decoded at q's mean</figcaption></figure>
      </div>
      <div class="row">
        <figure><canvas class="posterior" role="img" aria-label="the true posterior of the chosen image, with q's ellipses">
          </canvas><figcaption class="posterior-caption"></figcaption></figure>
        <table aria-label="the chosen test image's numbers"><tbody class="numbers"></tbody></table>
      </div>`;
    const alike = run.name.toLowerCase() === run.algorithm.toLowerCase();    // a folder named after its algorithm
    const named = alike ? run.algorithm : `${run.name}: ${run.algorithm}`;
    this.heading = section.querySelector("h2");
    this.heading.textContent = `${named}, ${run.epochs} epochs, seed ${run.seed}, ${run.likelihood} likelihood`;
    const [rows, cols] = this.explorer.shape, ratio = window.devicePixelRatio || 1;
    this.plane = section.querySelector(".plane");
    this.plane.setAttribute("aria-label", `${run.name}: the latent plane from -${this.half} to ${this.half} on both ` +
                            "axes; arrows move the decoded point, Enter chooses the nearest test image");
    this.plane.style.width = this.plane.style.height = `${PLANE}px`;
    this.plane.width = this.plane.height = Math.round(PLANE * ratio);
    for (const name of ["decoded", "original", "reconstruction"]) {
      const canvas = section.querySelector(`.${name}`);
      canvas.width = cols * PIXELS;
      canvas.height = rows * PIXELS;
      this[name] = canvas;
    }
    this.posterior = section.querySelector(".posterior");
    this.posterior.width = this.posterior.height = 200;
    this.caption = section.querySelector(".hover");
    this.posteriorCaption = section.querySelector(".posterior-caption");
    this.numbers = section.querySelector(".numbers");
    this.plane.addEventListener("pointermove", (event) => this.hover(this.toZ(event)));
    this.plane.addEventListener("click", (event) => this.click(event));
    this.plane.addEventListener("keydown", (event) => this.key(event));
    document.getElementById("runs").appendChild(section);
  }

  toPixel(z1, z2) {   // z -> the plane's canvas pixels
    const size = this.plane.width;
    return [(z1 + this.half) / (2 * this.half) * size, (this.half - z2) / (2 * this.half) * size];
  }

  toZ(event) {        // a pointer event -> z (offsetX is measured inside the border, clientWidth too)
    const u = event.offsetX / this.plane.clientWidth, v = event.offsetY / this.plane.clientHeight;
    return [(2 * u - 1) * this.half, (1 - 2 * v) * this.half];
  }

  toClient(z1, z2) {  // z -> client coordinates (for a test that clicks)
    const box = this.plane.getBoundingClientRect(), [x, y] = this.toPixel(z1, z2);
    return {x: box.left + this.plane.clientLeft + x / this.plane.width * this.plane.clientWidth,
            y: box.top + this.plane.clientTop + y / this.plane.height * this.plane.clientHeight};
  }

  drawScatter() {
    // the static layer: axes, the prior's circles, every test image's code, rings on those with a posterior
    const canvas = document.createElement("canvas"), size = this.plane.width, ratio = size / PLANE;
    canvas.width = canvas.height = size;
    const c = canvas.getContext("2d"), [ox, oy] = this.toPixel(0, 0), unit = size / (2 * this.half);
    c.fillStyle = "#fff";
    c.fillRect(0, 0, size, size);
    c.strokeStyle = "#ddd";
    c.fillStyle = "#666";
    c.font = `${11 * ratio}px system-ui, sans-serif`;
    for (let t = -Math.floor(this.half); t <= this.half; t++) {
      const [x, y] = this.toPixel(t, t);
      c.beginPath(); c.moveTo(x, 0); c.lineTo(x, size); c.moveTo(0, y); c.lineTo(size, y); c.stroke();
      if (t !== 0) { c.fillText(String(t), x + 2, oy - 3); c.fillText(String(t), ox + 3, y - 2); }
    }
    c.fillText("z\u2081", size - 18 * ratio, oy - 4);
    c.fillText("z\u2082", ox + 4, 13 * ratio);
    c.strokeStyle = "#888";
    c.setLineDash([5 * ratio, 4 * ratio]);
    for (const radius of [1, 2, 3]) { c.beginPath(); c.arc(ox, oy, radius * unit, 0, 2 * Math.PI); c.stroke(); }
    c.setLineDash([]);
    const {mean, labels} = this.run;
    for (let n = 0; n < labels.length; n++) {
      const [x, y] = this.toPixel(mean[2 * n], mean[2 * n + 1]);
      c.fillStyle = COLOURS[labels[n] % COLOURS.length];
      c.fillRect(x - 1.5 * ratio, y - 1.5 * ratio, 3 * ratio, 3 * ratio);
    }
    c.strokeStyle = "#222";
    c.lineWidth = ratio;
    for (let n = 0; n < this.run.featured; n++) {
      const [x, y] = this.toPixel(mean[2 * n], mean[2 * n + 1]);
      c.beginPath(); c.arc(x, y, 4 * ratio, 0, 2 * Math.PI); c.stroke();
    }
    this.scatter = canvas;
  }

  ellipses(c, toPixel, n) {
    // q's ellipses at 1 and 2 standard deviations (q is diagonal, so its ellipses are axis-aligned)
    const m1 = this.run.mean[2 * n], m2 = this.run.mean[2 * n + 1];
    const s1 = Math.exp(0.5 * this.run.log_var[2 * n]), s2 = Math.exp(0.5 * this.run.log_var[2 * n + 1]);
    for (const [scale, dash] of [[1, []], [2, [4, 3]]]) {
      const [x0, y0] = toPixel(m1 - scale * s1, m2 + scale * s2), [x1, y1] = toPixel(m1 + scale * s1, m2 - scale * s2);
      c.setLineDash(dash);
      c.beginPath();
      c.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.max((x1 - x0) / 2, 0.5), Math.max((y1 - y0) / 2, 0.5), 0, 0,
                2 * Math.PI);
      c.stroke();
    }
    c.setLineDash([]);
  }

  redraw() {
    const c = this.plane.getContext("2d"), ratio = this.plane.width / PLANE, chosen = this.explorer.chosen;
    c.drawImage(this.scatter, 0, 0);
    if (chosen !== null) {
      c.strokeStyle = "#000";
      c.lineWidth = 2 * ratio;
      this.ellipses(c, (a, b) => this.toPixel(a, b), chosen);
      const [x, y] = this.toPixel(this.run.mean[2 * chosen], this.run.mean[2 * chosen + 1]);
      c.beginPath(); c.arc(x, y, 7 * ratio, 0, 2 * Math.PI); c.stroke();
    }
    const [x, y] = this.toPixel(...this.cursor);
    c.strokeStyle = "#d00";
    c.lineWidth = ratio;
    c.beginPath(); c.moveTo(x - 8 * ratio, y); c.lineTo(x + 8 * ratio, y); c.moveTo(x, y - 8 * ratio);
    c.lineTo(x, y + 8 * ratio); c.stroke();
  }

  hover(z) {
    this.cursor = z;
    const began = performance.now();
    drawImage(this.decoded, decode(this.run, z[0], z[1]), this.explorer.shape);
    this.explorer.lastDecodeMs = performance.now() - began;
    this.caption.textContent = `p(x | z) at z = (${z[0].toFixed(2)}, ${z[1].toFixed(2)})`;
    this.redraw();
  }

  nearest(z1, z2) {
    let best = 0, distance = Infinity;
    for (let n = 0; n < this.run.labels.length; n++) {
      const d = (this.run.mean[2 * n] - z1) ** 2 + (this.run.mean[2 * n + 1] - z2) ** 2;
      if (d < distance) { best = n; distance = d; }
    }
    return [best, Math.sqrt(distance)];
  }

  click(event) {
    const [n, distance] = this.nearest(...this.toZ(event));
    if (distance / (2 * this.half) * PLANE <= 8) this.explorer.choose(n);   // within 8 CSS pixels of a code
  }

  key(event) {
    const step = (event.shiftKey ? 5 : 1) * this.half / 40;
    const moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]};
    if (moves[event.key]) {
      const clamp = (v) => Math.min(Math.max(v, -this.half), this.half);
      this.hover([clamp(this.cursor[0] + moves[event.key][0]), clamp(this.cursor[1] + moves[event.key][1])]);
      this.explorer.announce(this.caption.textContent);
    } else if (event.key === "Enter" || event.key === " ") {
      this.explorer.choose(this.nearest(...this.cursor)[0]);
    } else if (event.key === "[" || event.key === "]") {
      this.explorer.step(event.key === "]" ? 1 : -1);
    } else {
      return;
    }
    event.preventDefault();
  }

  show(n) {
    const run = this.run, shape = this.explorer.shape, images = this.explorer.images, size = shape[0] * shape[1];
    drawImage(this.original, images.subarray(n * size, (n + 1) * size), shape);
    drawImage(this.reconstruction, decode(run, run.mean[2 * n], run.mean[2 * n + 1]), shape);
    const rows = [["test image", `${n} (label ${run.labels[n]})`], ["log p(x), exact", run.log_px[n].toFixed(2), "log_px"],
                  ["L\u2081, the ELBO (1000 samples)", run.elbo[n].toFixed(2), "elbo"],
                  ["L\u2081\u2080\u2080, estimated (1000 samples)", run.l100[n].toFixed(2), "l100"],
                  ["KL(q \u2016 p(z | x)) = log p(x) \u2212 L\u2081", (run.log_px[n] - run.elbo[n]).toFixed(2), "kl"]];
    this.numbers.innerHTML = "";
    for (const [label, value, quantity] of rows) {
      const row = this.numbers.insertRow(), head = document.createElement("th");
      head.textContent = label;
      row.appendChild(head);
      const cell = row.insertCell();
      cell.textContent = value;
      if (quantity) cell.dataset.quantity = quantity;
    }
    this.drawPosterior(n);
    this.redraw();
  }

  drawPosterior(n) {
    // the true posterior on its window (precomputed by algorithms/posterior.py) with q's ellipses over it
    const c = this.posterior.getContext("2d"), size = this.posterior.width, w = this.explorer.window;
    let extent;
    c.fillStyle = "#fff";
    c.fillRect(0, 0, size, size);
    if (n < this.run.featured) {
      extent = Array.from(this.run.posterior_extent.subarray(4 * n, 4 * n + 4));
      const image = c.createImageData(w, w), density = this.run.posterior_density.subarray(n * w * w, (n + 1) * w * w);
      for (let p = 0; p < w * w; p++) image.data.set([...magma(density[p] / 255), 255], 4 * p);
      const small = document.createElement("canvas");
      small.width = small.height = w;
      small.getContext("2d").putImageData(image, 0, 0);
      c.imageSmoothingEnabled = false;
      c.drawImage(small, 0, 0, size, size);
      this.posteriorCaption.textContent = `p(z | x) (heat) and q (cyan), z\u2081 ${extent[0].toFixed(2)} to ` +
        `${extent[1].toFixed(2)}, z\u2082 ${extent[2].toFixed(2)} to ${extent[3].toFixed(2)}`;
    } else {
      const m1 = this.run.mean[2 * n], m2 = this.run.mean[2 * n + 1];
      const r = 3 * Math.exp(0.5 * Math.max(this.run.log_var[2 * n], this.run.log_var[2 * n + 1]));
      extent = [m1 - r, m1 + r, m2 - r, m2 + r];
      this.posteriorCaption.textContent = `q only: the true posterior is kept for the ringed images 0 to ` +
        `${this.run.featured - 1}`;
    }
    const toPixel = (z1, z2) => [(z1 - extent[0]) / (extent[1] - extent[0]) * size,
                                 (extent[3] - z2) / (extent[3] - extent[2]) * size];
    c.strokeStyle = "#0ff";
    c.lineWidth = 1.5;
    this.ellipses(c, toPixel, n);
  }
}

class Explorer {
  constructor() {
    this.data = JSON.parse(document.getElementById("data").textContent);
    this.shape = this.data.image_shape;
    this.window = this.data.window;
    this.chosen = null;
    this.lastDecodeMs = null;
    this.ready = this.load();
  }

  async load() {
    try {
      return await this.unpackAndDraw();
    } catch (error) {
      document.getElementById("status").textContent = `The page could not be drawn in this browser: ${error}`;
      throw error;
    }
  }

  async unpackAndDraw() {
    const began = performance.now();
    this.images = await unpack(this.data.images);
    this.runs = [];
    for (const packed of this.data.runs) {
      const run = {...packed, layers: [], cbSeries: packed.cb_series || null};
      for (const layer of packed.decoder) {
        run.layers.push({W: await unpack(layer.W), b: await unpack(layer.b), activation: layer.activation});
      }
      for (const key of ["mean", "log_var", "labels", "log_px", "elbo", "l100", "posterior_extent", "posterior_density"]) {
        run[key] = await unpack(packed[key]);
      }
      run.featured = run.posterior_extent.length / 4;
      this.runs.push(run);
    }
    this.count = this.runs[0].labels.length;
    this.panels = this.runs.map((run) => new Panel(run, this));
    this.legend();
    this.controls();
    this.choose(0);
    this.alignHeadings();             // once the panels are filled, at the width they keep
    window.addEventListener("resize", () => this.alignHeadings());
    const seconds = (performance.now() - began) / 1000;
    document.getElementById("status").textContent = `${this.runs.length} model${this.runs.length > 1 ? "s" : ""}, ` +
      `${this.count} test images, unpacked in ${seconds.toFixed(1)} s.`;
    return {runs: this.runs.length, points: this.count, seconds};
  }

  alignHeadings() {
    // panels side by side (explorer.css) share a row: a heading wrapped onto more lines than its neighbour's would put
    // its plane lower, so each heading is as tall as the tallest in its row
    const headings = this.panels.map((panel) => panel.heading), tallest = new Map();
    for (const heading of headings) heading.style.minHeight = "";
    const boxes = headings.map((heading) => heading.getBoundingClientRect()), row = (box) => Math.round(box.top);
    for (const box of boxes) tallest.set(row(box), Math.max(tallest.get(row(box)) || 0, box.height));
    headings.forEach((heading, n) => { heading.style.minHeight = `${tallest.get(row(boxes[n]))}px`; });
  }

  legend() {
    const list = document.getElementById("legend");
    for (let digit = 0; digit < 10; digit++) {
      const item = document.createElement("li");
      item.style.setProperty("--colour", COLOURS[digit]);
      item.textContent = String(digit);
      list.appendChild(item);
    }
  }

  controls() {
    const input = document.getElementById("image-index");
    input.max = String(this.count - 1);
    document.getElementById("show").addEventListener("click", () => this.choose(Number(input.value)));
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") this.choose(Number(input.value)); });
    document.getElementById("previous").addEventListener("click", () => this.step(-1));
    document.getElementById("next").addEventListener("click", () => this.step(1));
  }

  choose(n) {
    if (!Number.isInteger(n) || n < 0 || n >= this.count) {
      this.announce(`There is no test image ${n} here: the page holds images 0 to ${this.count - 1}.`);
      return;
    }
    this.chosen = n;
    document.getElementById("image-index").value = String(n);
    for (const panel of this.panels) panel.show(n);
    const run = this.runs[0];
    this.announce(`Test image ${n}, label ${run.labels[n]}: ` + this.runs.map((r) =>
      `${r.name} log p(x) ${r.log_px[n].toFixed(2)}, KL from q to the posterior ${(r.log_px[n] - r.elbo[n]).toFixed(2)}`
    ).join("; "));
  }

  step(direction) {
    // the next (or previous) ringed image; from an image without a ring, the first (or last) ringed one
    const featured = this.runs[0].featured, n = this.chosen ?? 0;
    this.choose(n < featured ? (n + direction + featured) % featured : (direction > 0 ? 0 : featured - 1));
  }

  announce(text) { document.getElementById("announce").textContent = text; }

  decode(index, z1, z2) { return Array.from(decode(this.runs[index], z1, z2)); }
}

window.explorer = new Explorer();
