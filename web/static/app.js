// The page: a drawing pad, and what digits' network (WebAssembly, ./digits_web.js) makes of it.
// Everything the network computes comes from the module; this file only draws.
import init, { Reader } from "./digits_web.js";
import { drawingPad, showAnswer, showWeights } from "./panels.js";

const started = performance.now();
// What tests and curious people can read: the last input, answer and timings.
const state = (window.digits = { ready: false, input: null, probabilities: null, digit: null, loadMs: null, updateMs: null, updates: 0, updateTotalMs: 0 });

const pad = document.getElementById("pad");
const drawing = drawingPad(pad, schedule);
const padContext = drawing.context;
const inputCanvas = document.getElementById("input");
let reader = null;
let pending = false;

async function start() {
  const [network, weights, run] = await Promise.all([
    fetch("network.json").then(expectOk).then((r) => r.text()),
    fetch("model.bpk").then(expectOk).then((r) => r.arrayBuffer()),
    fetch("run.json").then(expectOk).then((r) => r.json()),
    init(),
  ]);
  reader = new Reader(network, new Uint8Array(weights));
  showSummary(run);
  showWeights(document.getElementById("weights"), JSON.parse(reader.first_layer()));
  showCurves(run.curves);
  clear();
  state.loadMs = performance.now() - started;
  state.ready = true;
  document.getElementById("timing").textContent = `loaded in ${state.loadMs.toFixed(0)} ms`;
}

function expectOk(response) {
  if (!response.ok) throw new Error(`${response.url}: HTTP ${response.status}`);
  return response;
}

// ---- drawing ----

function clear() {
  drawing.clear();
  state.input = null;
  state.probabilities = null;
  state.digit = null;
  showAnswer(null);
  showInput(null);
  showInside(null);
}
document.getElementById("clear").addEventListener("click", clear);

// One update per frame, however many pointer events arrive.
function schedule() {
  if (pending || !reader) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    update();
  });
}

function update() {
  const t0 = performance.now();
  const pixels = padContext.getImageData(0, 0, pad.width, pad.height);
  const input = reader.prepare(new Uint8Array(pixels.data.buffer), pad.width, pad.height);
  if (input.length === 0) return clear();
  const reading = JSON.parse(reader.read(input));
  state.updateMs = performance.now() - t0;
  state.updates += 1;
  state.updateTotalMs += state.updateMs;
  state.input = Array.from(input);
  state.probabilities = reading.probabilities;
  state.digit = reading.digit;
  showInput(input);
  showAnswer(reading);
  showInside(reading);
  document.getElementById("timing").textContent = `update ${state.updateMs.toFixed(1)} ms`;
}

// ---- panels ----

function showInput(input) {
  const context = inputCanvas.getContext("2d");
  const image = context.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = input ? input[i] : 0;
    image.data.set([v, v, v, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
}

// A grey level for an output: each layer scaled by its largest output (sigmoid ones are 0..1).
function shade(value, top) {
  const v = Math.round(255 * Math.max(0, Math.min(1, value / (top || 1))));
  return `rgb(${v},${Math.round(v * 0.85)},${Math.round(v * 0.4)})`;
}

function showInside(reading) {
  const inside = document.getElementById("inside");
  inside.textContent = "";
  if (!reading) {
    inside.textContent = "Draw something to see the neurons light up.";
    return;
  }
  reading.maps.forEach((maps, layer) => {
    const top = Math.max(...maps.values, 1e-6);
    const block = layerBlock(inside, `convolution ${layer + 1}: ${maps.channels} feature maps of ${maps.height}×${maps.width}`, "cells");
    const size = maps.height * maps.width;
    for (let c = 0; c < maps.channels; c++) {
      const canvas = document.createElement("canvas");
      canvas.width = maps.width;
      canvas.height = maps.height;
      canvas.style.width = canvas.style.height = `${Math.max(28, 3 * maps.width)}px`;
      const context = canvas.getContext("2d");
      const image = context.createImageData(maps.width, maps.height);
      for (let i = 0; i < size; i++) {
        const v = Math.round(255 * Math.max(0, maps.values[c * size + i]) / top);
        image.data.set([v, Math.round(v * 0.85), Math.round(v * 0.4), 255], 4 * i);
      }
      context.putImageData(image, 0, 0);
      block.appendChild(canvas);
    }
  });
  reading.hidden.forEach((outputs, layer) => {
    const top = Math.max(...outputs, 1e-6);
    const block = layerBlock(inside, `hidden layer ${layer + 1}: ${outputs.length} neurons`, "neurons");
    for (const value of outputs) {
      const cell = document.createElement("span");
      cell.style.background = shade(value, top);
      cell.title = value.toFixed(3);
      block.appendChild(cell);
    }
  });
}

function layerBlock(parent, name, kind) {
  const layer = document.createElement("div");
  layer.className = "layer";
  layer.innerHTML = `<div class="name">${name}</div><div class="${kind}"></div>`;
  parent.appendChild(layer);
  return layer.lastChild;
}

function showSummary(run) {
  const accuracy = run.test_accuracy === null ? "not tested" : `${(100 * run.test_accuracy).toFixed(2)} % of ${run.test_images.toLocaleString("en")} test images right`;
  document.getElementById("summary").textContent = `${run.network} · ${run.parameters.toLocaleString("en")} parameters · trained ${run.epochs} epochs on ${run.backend} · ${accuracy}`;
}

// Two small line charts (accuracy, loss) against the epoch, as SVG.
function showCurves(curves) {
  const box = document.getElementById("curves");
  for (const [metric, label] of [["accuracy", "accuracy (%)"], ["loss", "loss"]]) {
    const series = [["train", "var(--train)"], ["valid", "var(--accent)"]]
      .map(([split, colour]) => ({ colour, points: curves[split].map((r) => [r.epoch, metric === "accuracy" ? 100 * r.accuracy : r.loss]) }))
      .filter((s) => s.points.length);
    const all = series.flatMap((s) => s.points);
    if (!all.length) continue;
    const [w, h, left, bottom] = [440, 220, 44, 28];
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(Math.max(...xs), Math.min(...xs) + 1)];
    const [y0, y1] = [Math.min(...ys), Math.max(Math.max(...ys), Math.min(...ys) + 1e-6)];
    const px = (x) => left + ((x - x0) / (x1 - x0)) * (w - left - 10);
    const py = (y) => 10 + (1 - (y - y0) / (y1 - y0)) * (h - bottom - 10);
    const lines = series
      .map((s) => `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${s.points.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(" ")}"/>`)
      .join("");
    box.insertAdjacentHTML(
      "beforeend",
      `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${label} per epoch">
        <line x1="${left}" y1="${h - bottom}" x2="${w - 10}" y2="${h - bottom}" stroke="#999"/>
        <line x1="${left}" y1="10" x2="${left}" y2="${h - bottom}" stroke="#999"/>
        <text x="${left}" y="${h - 8}">epoch ${x0}</text><text x="${w - 10}" y="${h - 8}" text-anchor="end">${x1}</text>
        <text x="${left - 4}" y="14" text-anchor="end">${y1.toFixed(metric === "loss" ? 2 : 1)}</text>
        <text x="${left - 4}" y="${h - bottom}" text-anchor="end">${y0.toFixed(metric === "loss" ? 2 : 1)}</text>
        <text x="${(w + left) / 2}" y="${h - 8}" text-anchor="middle">${label}</text>${lines}</svg>`,
    );
  }
}

start().catch((error) => {
  document.getElementById("summary").textContent = `The network could not be loaded: ${error.message || error}`;
  console.error(error);
});
