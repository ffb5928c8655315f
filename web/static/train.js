// The training page: the controls, and what the worker (worker.js, digits' own training code
// in WebAssembly) reports, drawn. Nothing here trains or computes a number the page shows.

import { drawingPad, showAnswer, showWeights } from "./panels.js";

// What tests and curious people can read: where training is, every finished epoch, speeds.
const state = (window.digitsTrain = {
  ready: false,
  phase: "loading", // loading · idle · starting · running · paused · done · refused
  message: "",
  note: "",
  parameters: 0,
  epoch: 0,
  step: 0,
  stepsDone: 0,
  epochs: [],
  imagesPerSecond: 0,
  readings: 0,
  lastReadMs: null,
  maxReadMs: 0,
  frames: 0,
  framesMs: 0,
  maxFrameGapMs: 0,
  run: null,
  errors: [],
  workerResources: [],
  loaded: [],
  initialFirstLayer: null,
});

const worker = new Worker("worker.js", { type: "module" });
const $ = (id) => document.getElementById(id);
const fields = [...document.querySelectorAll("[data-key]")];
let configs = [];
let history = { train: [], valid: [], test: [], norms: [] };
let learningRate = 0;

async function start() {
  const site = await fetch("configs.json").then((r) => {
    if (!r.ok) throw new Error(`${r.url}: HTTP ${r.status}`);
    return r.json();
  });
  configs = site.configs;
  // A site made without a run has no reading page (its index.html is this page).
  if (!site.reading_page) $("reading-link").remove();
  for (const { name } of configs) $("config").insertAdjacentHTML("beforeend", `<option>${name}</option>`);
  $("config").value = configs.some((c) => c.name === "mlp.toml") ? "mlp.toml" : configs[0].name;
}

worker.onmessage = ({ data }) => {
  const handler = messages[data.kind];
  if (handler) handler(data);
};
worker.onerror = (event) => fail(`the worker failed: ${event.message}`);

const messages = {
  loaded({ part }) {
    state.loaded.push(part);
  },
  ready({ resources }) {
    state.workerResources = resources;
    state.ready = true;
    state.phase = "idle";
    $("summary").textContent = "Pick a config, change what you like, press Start.";
    askKeys();
    buttons();
  },
  keys({ name, config }) {
    if (name !== $("config").value) return;
    const values = {
      "model.hidden": config.model.hidden.join(", "),
      "model.activation": config.model.activation,
      "model.norm": config.model.norm,
      "training.loss": config.training.loss,
      "training.optimizer": config.training.optimizer,
      "training.learning_rate": config.training.learning_rate,
      "training.lr_schedule": config.training.lr_schedule,
      "training.batch_size": config.training.batch_size,
      "training.epochs": config.training.epochs,
      "training.seed": config.training.seed,
    };
    for (const field of fields) {
      const value = values[field.dataset.key];
      if (field.tagName === "SELECT") field.options[0].textContent = `${value} (config)`;
      else field.placeholder = String(value);
    }
    const conv = config.model.kind === "cnn" ? `conv ${config.model.conv.map((b) => b.channels ?? b).join(", ")} → ` : "";
    $("summary").textContent = `${name}: ${conv}${config.model.hidden.join(" → ")} → 10, ${config.model.activation}`;
  },
  refused({ message }) {
    state.phase = "refused";
    state.message = message;
    $("message").textContent = message;
    buttons();
  },
  started({ parameters, splits, note, firstLayer, testImages, guesses }) {
    state.phase = "running";
    Object.assign(state, { parameters, note, epoch: 1, step: 0, stepsDone: 0, epochs: [], run: null, message: "" });
    history = { train: [], valid: [], test: [], norms: [] };
    $("message").textContent = note;
    $("summary").textContent = `${$("config").value}: ${parameters.toLocaleString("en")} parameters · ${splits[0].toLocaleString("en")} training, ${splits[1].toLocaleString("en")} validation, ${splits[2].toLocaleString("en")} test images`;
    state.initialFirstLayer = firstLayer;
    showWeights($("weights"), firstLayer);
    showTests(testImages, guesses);
    drawCharts();
  },
  running() {
    state.phase = "running";
    buttons();
  },
  paused() {
    state.phase = "paused";
    buttons();
  },
  progress({ progress, imagesPerSecond, firstLayer, guesses }) {
    state.epoch = progress.epoch;
    state.step = progress.step;
    state.imagesPerSecond = imagesPerSecond;
    const x = progress.epoch - 1 + progress.step / Math.max(1, progress.steps);
    if (progress.images) {
      history.train.push([x, progress.loss, 100 * progress.accuracy]);
      if (progress.grad_norms.length) history.norms.push([x, ...progress.grad_norms]);
    }
    for (const finished of progress.epochsFinished) {
      state.epochs.push(finished);
      history.valid.push([finished.epoch, finished.valid.loss, 100 * finished.valid.accuracy]);
      history.test.push([finished.epoch, finished.test.loss, 100 * finished.test.accuracy]);
    }
    state.stepsDone = (progress.epoch - 1) * progress.steps + progress.step;
    const last = state.epochs[state.epochs.length - 1];
    const scores = last ? ` · after epoch ${last.epoch}: validation ${(100 * last.valid.accuracy).toFixed(2)} %, test ${(100 * last.test.accuracy).toFixed(2)} %` : "";
    // A report of scoring alone took no step: it has no rate of its own.
    if (progress.images) learningRate = progress.learning_rate;
    $("status").textContent = `epoch ${progress.epoch} of ${progress.epochs}, step ${progress.step} of ${progress.steps} · ${Math.round(imagesPerSecond).toLocaleString("en")} images/s · lr ${learningRate.toPrecision(3)}${scores}`;
    showWeights($("weights"), firstLayer);
    showGuesses(guesses);
    if (progress.images) showNorms(progress.grad_norms);
    drawCharts();
    if (progress.diverged) $("message").textContent = progress.diverged;
  },
  done({ diverged }) {
    state.phase = "done";
    if (diverged) state.message = $("message").textContent = diverged;
    buttons();
  },
  reset() {
    state.phase = "idle";
    history = { train: [], valid: [], test: [], norms: [] };
    Object.assign(state, { epoch: 0, step: 0, stepsDone: 0, epochs: [], run: null });
    $("status").textContent = "";
    $("weights").textContent = "";
    $("tests").textContent = "";
    $("norms").textContent = "";
    drawCharts();
    buttons();
  },
  reading({ id, input, reading }) {
    if (id !== readingId) return; // a newer drawing is on its way
    const ms = performance.now() - readingSent;
    state.readings += 1;
    state.lastReadMs = ms;
    state.maxReadMs = Math.max(state.maxReadMs, ms);
    state.reading = reading;
    showAnswer(reading);
    $("timing").textContent = reading ? `answered in ${ms.toFixed(1)} ms` : "";
    readingInFlight = false;
    if (padDirty) askReading();
  },
  run({ bytes }) {
    state.run = bytes;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([bytes], { type: "application/x-tar" }));
    link.download = `digits-${$("config").value.replace(/\.toml$/, "")}-run.tar`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  },
  error({ message }) {
    fail(message);
  },
};

function fail(message) {
  state.errors.push(message);
  state.message = message;
  $("message").textContent = message;
}

// ---- controls ----

function overrides() {
  return fields
    .filter((field) => field.value.trim() !== "")
    .map((field) => {
      const value = field.value.trim();
      return field.dataset.list !== undefined ? `${field.dataset.key}=[${value.replace(/[[\]]/g, "")}]` : `${field.dataset.key}=${value}`;
    })
    .join("\n");
}

function askKeys() {
  const config = configs.find((c) => c.name === $("config").value);
  worker.postMessage({ kind: "keys", name: config.name, text: config.text });
}

function buttons() {
  const phase = state.phase;
  $("start").disabled = !state.ready || phase === "running" || phase === "starting";
  $("start").textContent = phase === "paused" ? "Resume" : "Start";
  $("pause").disabled = phase !== "running";
  $("step").disabled = phase !== "paused";
  $("reset").disabled = !["running", "paused", "done"].includes(phase);
  $("download").disabled = !["paused", "done"].includes(phase) || state.epochs.length === 0;
}

$("config").addEventListener("change", () => {
  for (const field of fields) field.value = "";
  askKeys();
});
$("start").addEventListener("click", () => {
  if (state.phase === "paused") return worker.postMessage({ kind: "resume" });
  const config = configs.find((c) => c.name === $("config").value);
  $("message").textContent = "";
  state.message = "";
  state.phase = "starting"; // until the worker says running or refused
  buttons();
  worker.postMessage({ kind: "start", name: config.name, text: config.text, overrides: overrides() });
});
$("pause").addEventListener("click", () => worker.postMessage({ kind: "pause" }));
$("step").addEventListener("click", () => worker.postMessage({ kind: "step" }));
$("reset").addEventListener("click", () => worker.postMessage({ kind: "reset" }));
$("download").addEventListener("click", () => worker.postMessage({ kind: "download" }));

// ---- frames: the page must stay smooth while the worker trains ----

let lastFrame = null;
function frame(now) {
  if (state.phase === "running") {
    if (lastFrame !== null) {
      state.frames += 1;
      state.framesMs += now - lastFrame;
      state.maxFrameGapMs = Math.max(state.maxFrameGapMs, now - lastFrame);
    }
    lastFrame = now;
  } else lastFrame = null;
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

// ---- drawing, read by the worker's network as it is now ----

const pad = $("pad");
const drawing = drawingPad(pad, () => {
  padDirty = true;
  if (!readingInFlight) askReading();
});
const padContext = drawing.context;
let padDirty = false;
let readingInFlight = false;
let readingId = 0;
let readingSent = 0;

function clearPad() {
  drawing.clear();
  state.reading = null;
  showAnswer(null);
}
$("clear").addEventListener("click", clearPad);

// One drawing in flight at a time; the latest one is sent when it is answered.
function askReading() {
  if (!state.ready) return;
  padDirty = false;
  readingInFlight = true;
  readingId += 1;
  readingSent = performance.now();
  const pixels = padContext.getImageData(0, 0, pad.width, pad.height);
  worker.postMessage({ kind: "read", id: readingId, rgba: new Uint8Array(pixels.data.buffer), width: pad.width, height: pad.height });
}

// ---- panels ----

function showNorms(norms) {
  const box = $("norms");
  if (!norms.length) return (box.textContent = "training.gradient_norms is off");
  const logs = norms.map((n) => Math.log10(Math.max(n, 1e-12)));
  const [low, high] = [Math.min(...logs, -6), Math.max(...logs, 0)];
  box.innerHTML = norms
    .map((n, i) => `<div class="norm"><span>layer ${i + 1}</span><span class="bar"><span style="width:${(100 * (logs[i] - low)) / (high - low || 1)}%"></span></span><span class="value">${n.toExponential(1)}</span></div>`)
    .join("");
}

let testCount = 0;
function showTests(images, guesses) {
  const box = $("tests");
  box.textContent = "";
  testCount = images.length / 784;
  for (let i = 0; i < testCount; i++) {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    const context = canvas.getContext("2d");
    const image = context.createImageData(28, 28);
    for (let p = 0; p < 784; p++) {
      const v = 255 - images[i * 784 + p];
      image.data.set([v, v, v, 255], 4 * p);
    }
    context.putImageData(image, 0, 0);
    figure.append(canvas, document.createElement("figcaption"));
    box.appendChild(figure);
  }
  showGuesses(guesses);
}

function showGuesses(guesses) {
  [...$("tests").children].forEach((figure, i) => {
    const [label, guess] = [guesses[i], guesses[testCount + i]];
    figure.className = label === guess ? "right" : "wrong";
    figure.lastChild.textContent = `${guess}`;
    figure.title = `a ${label}, read as ${guess}`;
  });
}

// Loss and accuracy against the epoch, on two canvases; each layer's gradient norm on a third.
function drawCharts() {
  const epochs = Math.max(1, ...history.valid.map((p) => p[0]), Math.ceil(Math.max(0, ...history.train.map((p) => p[0]))));
  const decimals = (step) => Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const linear = { scale: (y) => y, label: (y, step) => y.toFixed(decimals(step)), step: niceStep };
  chart($("loss-chart"), "loss", epochs, scores(1), linear);
  chart($("accuracy-chart"), "accuracy (%)", epochs, scores(2), linear);
  const layers = history.norms.length ? history.norms[0].length - 1 : 0;
  const norms = Array.from({ length: layers }, (_, layer) => [history.norms.map((p) => [p[0], p[layer + 1]]), layerColour(layer, layers), false, layers > 4 ? `${layer + 1}` : `layer ${layer + 1}`]);
  // Powers of ten: a vanishing gradient is orders of magnitude, not a few per cent.
  const decades = { scale: (y) => Math.log10(Math.max(y, 1e-12)), label: (y) => `1e${y}`, step: (span) => Math.max(1, Math.ceil(span / 4)) };
  chart($("norms-chart"), "gradient norm (log)", epochs, norms, decades);
}

// The three curves of loss (column 1) or accuracy (column 2): training, validation, test.
function scores(column) {
  const pick = (points) => points.map((p) => [p[0], p[column]]);
  return [
    [pick(history.train), "#d62728", false, "training"],
    [pick(history.valid), "#1f77b4", true, "validation"],
    [pick(history.test), "#2ca02c", true, "test"],
  ];
}

// Input side blue, output side orange: the layers' order reads off the colours.
function layerColour(layer, layers) {
  const t = layers > 1 ? layer / (layers - 1) : 0;
  return `hsl(${Math.round(215 - 185 * t)}, 70%, 45%)`;
}

// A step of 1, 2 or 5 × 10ⁿ that cuts `span` into `parts` or a few fewer.
function niceStep(span, parts = 4) {
  const raw = span / parts;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw);
}

// `series`: [points ([x, y]), colour, dotted, name]; `axis` maps y to the drawn scale and
// labels its ticks.
function chart(canvas, label, epochs, series, axis) {
  const context = canvas.getContext("2d");
  // The title and the legend sit on a row of their own above the plot, clear of the curves.
  const [w, h, left, bottom, top] = [canvas.width, canvas.height, 44, 24, 22];
  context.clearRect(0, 0, w, h);
  const ys = series.flatMap(([points]) => points.map((p) => axis.scale(p[1]))).filter(Number.isFinite);
  context.font = "11px system-ui, sans-serif";
  context.fillStyle = "#5b6474";
  context.fillText(label, left, 12);
  let x = w - 6;
  for (const [, colour, , name] of [...series].reverse()) {
    x -= context.measureText(name).width;
    context.fillStyle = "#5b6474";
    context.fillText(name, x, 12);
    context.fillStyle = colour;
    context.fillRect(x - 12, 6, 9, 3);
    x -= 22;
  }
  context.strokeStyle = "#999";
  context.lineWidth = 1;
  context.beginPath();
  context.moveTo(left, top);
  context.lineTo(left, h - bottom);
  context.lineTo(w - 6, h - bottom);
  context.stroke();
  if (!ys.length) return;
  // The y range widened to whole ticks, so every gridline has its value.
  const step = axis.step(Math.max(...ys) - Math.min(...ys) || 1);
  const [y0, y1] = [Math.floor(Math.min(...ys) / step) * step, Math.max(Math.ceil(Math.max(...ys) / step) * step, Math.floor(Math.min(...ys) / step) * step + step)];
  const px = (x) => left + (x / epochs) * (w - left - 10);
  const py = (y) => top + 2 + (1 - (axis.scale(y) - y0) / (y1 - y0)) * (h - bottom - top - 4);
  const pyScaled = (v) => top + 2 + (1 - (v - y0) / (y1 - y0)) * (h - bottom - top - 4);
  context.fillStyle = "#5b6474";
  context.strokeStyle = "#e3e6eb";
  context.beginPath();
  for (let tick = 0; y0 + tick * step <= y1 + step / 1e6; tick++) {
    const v = y0 + tick * step;
    context.fillText(axis.label(Number(v.toFixed(10)), step), 2, pyScaled(v) + 4);
    if (tick) context.moveTo(left + 1, pyScaled(v)), context.lineTo(w - 6, pyScaled(v));
  }
  const epochStep = Math.max(1, niceStep(epochs, 10));
  for (let epoch = epochStep; epoch <= epochs; epoch += epochStep) context.moveTo(px(epoch), top), context.lineTo(px(epoch), h - bottom - 1);
  context.stroke();
  context.textAlign = "center";
  for (let epoch = 0; epoch <= epochs; epoch += epochStep) context.fillText(String(epoch), px(epoch), h - 6);
  context.textAlign = "end";
  context.fillText("epoch", left - 8, h - 6);
  context.textAlign = "start";
  for (const [points, colour, dots] of series) {
    context.strokeStyle = context.fillStyle = colour;
    context.lineWidth = dots ? 2 : 1;
    context.beginPath();
    points.forEach((p, i) => (i ? context.lineTo(px(p[0]), py(p[1])) : context.moveTo(px(p[0]), py(p[1]))));
    context.stroke();
    if (dots) for (const p of points) context.fillRect(px(p[0]) - 2, py(p[1]) - 2, 4, 4);
  }
  context.lineWidth = 1;
}

start().catch((error) => fail(`The page could not start: ${error.message || error}`));
clearPad();
drawCharts();
