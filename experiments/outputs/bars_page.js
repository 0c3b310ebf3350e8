"use strict";
// The page you can touch (experiments/outputs/bars_page.py writes the data below it). Python gave what is exact: each
// image's P_model and its p(h | x) and q(h | x) over every joint state (derivations/1995.md, Eqs. (H4)-(H5)). This
// computes what is cheap, in double precision from the float32 weights: the generative network of
// algorithms/binary/model.py, eta(h_1) = h_1 W1 + b1 for the pixels, h_2 W2 + b2 for the middle units, b for the top.

const DATA = JSON.parse(document.getElementById("data").textContent);
const [MIDDLE, TOP] = DATA.layers, STATES = 2 ** (MIDDLE + TOP), PIXELS = DATA.shape[0] * DATA.shape[1];
const LISTED = 8;                                   // the states with the most posterior mass, in the table

function sigmoid(x) { return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)); }

function affine(h, W, b) {
  // h W + b for a row of units h and W (n_in x n_out, as nested rows)
  const out = Float64Array.from(b);
  h.forEach((on, i) => { if (on) for (let j = 0; j < out.length; j++) out[j] += W[i][j]; });
  return out;
}

function drawn(middle) {
  // sigma(eta(h_1)): each pixel's probability of being on given the middle units (Eq. (S1), the bottom layer)
  return Array.from(affine(middle, DATA.W1, DATA.b1), sigmoid);
}

function middleGivenTop(top) {
  // p(h_1j = 1 | h_2) = sigma(h_2 W2 + b2)_j
  return Array.from(affine(top, DATA.W2, DATA.b2), sigmoid);
}

function bits(state, count, from = 0) {
  return Array.from({length: count}, (_, j) => (state >> (from + j)) & 1);
}

function topDrawn(top) {
  // E[x | h_2] = sum over the 2^J1 middle states of p(h_1 | h_2) sigma(eta(h_1))
  const on = middleGivenTop(top), mean = new Float64Array(PIXELS);
  for (let s = 0; s < 2 ** MIDDLE; s++) {
    const middle = bits(s, MIDDLE);
    const weight = middle.reduce((w, h, j) => w * (h ? on[j] : 1 - on[j]), 1);
    drawn(middle).forEach((p, d) => { mean[d] += weight * p; });
  }
  return Array.from(mean);
}

function priorOf(middle, top) {
  // p(h_1, h_2) = p(h_2) p(h_1 | h_2), the probability that the model dreams these units
  const topOn = DATA.prior.map(sigmoid), on = middleGivenTop(top);
  const factor = (h, p) => (h ? p : 1 - p);
  return top.reduce((w, h, j) => w * factor(h, topOn[j]), 1) * middle.reduce((w, h, j) => w * factor(h, on[j]), 1);
}

function paint(canvas, pixels, scale) {
  // pixels in [0, 1], white ink on black, scale screen pixels each (read back by the tests: willReadFrequently)
  const [rows, cols] = DATA.shape, context = canvas.getContext("2d", {willReadFrequently: true});
  canvas.width = cols * scale;
  canvas.height = rows * scale;
  pixels.forEach((value, d) => {
    const grey = Math.round(255 * value);
    context.fillStyle = `rgb(${grey},${grey},${grey})`;
    context.fillRect((d % cols) * scale, Math.floor(d / cols) * scale, scale, scale);
  });
}

const page = {data: DATA, chosen: null, middle: new Array(MIDDLE).fill(0), top: new Array(TOP).fill(0)};

function listImages() {
  const list = document.getElementById("images"), most = Math.max(...DATA.p_data, ...DATA.p_model);
  DATA.images.forEach((image, i) => {
    const card = document.createElement("button");
    card.type = "button";
    card.className = "image";
    card.dataset.index = i;
    card.dataset.pData = DATA.p_data[i];
    card.dataset.pModel = DATA.p_model[i];
    card.setAttribute("aria-pressed", "false");
    const canvas = document.createElement("canvas");
    paint(canvas, image, 12);
    card.append(canvas);
    for (const [name, value] of [["data", DATA.p_data[i]], ["model", DATA.p_model[i]]]) {
      const bar = document.createElement("span");
      bar.className = `bar ${name}`;
      bar.style.width = `${Math.max(1, 84 * Math.sqrt(value / most))}px`;
      const text = document.createElement("span");
      text.className = `${name}-text`;
      text.textContent = `P_${name} ${value.toFixed(4)}`;
      card.append(bar, text);
    }
    card.setAttribute("aria-label", `image ${i + 1}: P_data ${DATA.p_data[i].toFixed(4)}, P_model ` +
                      `${DATA.p_model[i].toFixed(4)}`);
    card.addEventListener("click", () => choose(i));
    list.append(card);
  });
}

function plotPosterior(i) {
  const canvas = document.getElementById("posterior-plot"), context = canvas.getContext("2d");
  const width = canvas.width / STATES, middle = canvas.height / 2;
  const p = DATA.posterior[i], q = DATA.q[i], most = Math.max(...p, ...q);
  context.clearRect(0, 0, canvas.width, canvas.height);
  for (let s = 0; s < STATES; s++) {
    context.fillStyle = "#1f77b4";
    const up = (middle - 4) * p[s] / most;
    context.fillRect(s * width, middle - up, Math.max(width, 1), up);
    context.fillStyle = "#ff7f0e";
    context.fillRect(s * width, middle, Math.max(width, 1), (middle - 4) * q[s] / most);
  }
  context.fillStyle = "#000";
  context.fillRect(0, middle, canvas.width, 1);
}

function listStates(i) {
  const p = DATA.posterior[i], q = DATA.q[i];
  const order = Array.from({length: STATES}, (_, s) => s).sort((a, b) => p[b] - p[a] || a - b).slice(0, LISTED);
  const body = document.querySelector("#states tbody");
  body.replaceChildren(...order.map((s) => {
    const row = document.createElement("tr"), middle = bits(s, MIDDLE), top = bits(s, TOP, MIDDLE);
    row.dataset.state = s;
    row.dataset.posterior = p[s];
    row.dataset.q = q[s];
    const cells = [middle.join(""), top.join(""), p[s].toFixed(4), q[s].toFixed(4)].map((text, c) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      cell.className = ["bits", "bits", "p", "q"][c];
      return cell;
    });
    const picture = document.createElement("td"), canvas = document.createElement("canvas");
    paint(canvas, drawn(middle), 6);
    picture.append(canvas);
    const action = document.createElement("td"), button = document.createElement("button");
    button.type = "button";
    button.textContent = "draw it";
    button.addEventListener("click", () => setUnits(middle, top));
    action.append(button);
    row.append(...cells, picture, action);
    return row;
  }));
  const covered = order.reduce((sum, s) => sum + p[s], 0);
  return covered;
}

function choose(i) {
  page.chosen = i;
  document.querySelectorAll("#images .image").forEach((card, c) => card.setAttribute("aria-pressed", String(c === i)));
  plotPosterior(i);
  const covered = listStates(i);
  document.getElementById("chosen-about").textContent =
    `Image ${i + 1}: P_data ${DATA.p_data[i].toFixed(4)}, P_model ${DATA.p_model[i].toFixed(4)} ` +
    `(log p(x) = ${DATA.log_px[i].toFixed(4)} nats); KL(q(h | x) || p(h | x)) = ${DATA.kl[i].toFixed(4)} nats ` +
    `= ${(DATA.kl[i] / Math.LN2).toFixed(4)} bits. The ${LISTED} states listed hold ${(100 * covered).toFixed(1)}% ` +
    "of the posterior.";
}

function unitButtons(container, count, layer, label) {
  for (let j = 0; j < count; j++) {
    const unit = document.createElement("div"), button = document.createElement("button");
    unit.className = "unit";
    button.type = "button";
    button.textContent = `${label} ${j + 1}`;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => toggle(layer, j));
    const probability = document.createElement("span");
    probability.className = "probability";
    unit.append(button, probability);
    container.append(unit);
  }
}

function showUnits() {
  const on = middleGivenTop(page.top), topOn = DATA.prior.map(sigmoid);
  for (const [id, units, probabilities] of [["middle-units", page.middle, on], ["top-units", page.top, topOn]]) {
    document.querySelectorAll(`#${id} .unit`).forEach((unit, j) => {
      unit.querySelector("button").setAttribute("aria-pressed", String(units[j] === 1));
      unit.querySelector(".probability").textContent = `p(on) ${probabilities[j].toFixed(3)}`;
    });
  }
  const pixels = drawn(page.middle), [, cols] = DATA.shape;
  paint(document.getElementById("drawn"), pixels, 40);
  document.getElementById("drawn-about").textContent =
    `sigma(eta(h_1)) for middle units ${page.middle.join("")}; p(h_1, h_2) = ` +
    `${priorOf(page.middle, page.top).toExponential(3)}`;
  const rows = [];
  for (let d = 0; d < pixels.length; d += cols) {
    const row = document.createElement("tr");
    row.append(...pixels.slice(d, d + cols).map((value) => {
      const cell = document.createElement("td");
      cell.textContent = value.toFixed(3);
      return cell;
    }));
    rows.push(row);
  }
  document.querySelector("#pixels tbody").replaceChildren(...rows);
  paint(document.getElementById("top-drawn"), topDrawn(page.top), 40);
  document.getElementById("top-drawn-about").textContent = `E[x | h_2 = ${page.top.join("")}]`;
}

function toggle(layer, j) {
  page[layer][j] = 1 - page[layer][j];
  showUnits();
}

function setUnits(middle, top) {
  page.middle = middle.slice();
  page.top = top.slice();
  showUnits();
}

document.getElementById("about").textContent =
  `${DATA.run}, seed ${DATA.seed}: ${DATA.epochs} epochs, ${DATA.samples} training images drawn from P_data; ` +
  `${DATA.layers[0]} middle units and ${DATA.layers[1]} top unit${DATA.layers[1] > 1 ? "s" : ""}, ` +
  `${STATES} joint states.`;
document.getElementById("kl").textContent =
  `KL(P_data || P_model) = ${DATA.kl_bits.toFixed(4)} bits (Eq. (H3)); H(P_data) = ${DATA.entropy_bits.toFixed(3)} bits.`;
listImages();
unitButtons(document.getElementById("middle-units"), MIDDLE, "middle", "unit");
unitButtons(document.getElementById("top-units"), TOP, "top", "top");
choose(0);
showUnits();
// for the tests (tests/test_bars_page.py) and the curious: the state shown, and the functions that show it
window.bars = {page, choose, toggle, setUnits, drawn, topDrawn, middleGivenTop};
