// The training page's Web Worker: digits' own training code (WebAssembly, ./digits_web.js)
// runs here, a few steps at a time, so that drawing and scrolling never wait for it. The page
// sends commands; the worker answers with progress, readings and the run folder.
import init, { Trainer, SampleFiles, prepare, resolved_config } from "./digits_web.js";

// The bundled MNIST sample, fetched once with the site (gzipped IDX files).
const SAMPLE = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];
// Each call into the module trains (or scores) for about this long: a message waits at most
// that, plus one step.
const SLICE_MS = 15;
// Progress goes to the page at most this often (it redraws on each).
const REPORT_MS = 100;
// How many test digits the page shows with the network's guesses.
const TEST_ROW = 24;

let sample = null;
let trainer = null;
let running = false;
// Progress gathered since the last report, and the run's training clock.
let pending = null;
let lastReport = 0;
let trainMs = 0;
let trainImages = 0;

// Each part of loading, as it ends (what a page that never gets ready reports).
const loaded = (part) => postMessage({ kind: "loaded", part });
loaded("worker");
const ready = (async () => {
  // One file at a time, each on a connection the browser keeps: `digits web --serve`'s
  // tiny_http 0.12 can leave a request unread when several new connections open at once
  // while its connection threads hold kept-alive ones (1 load in 4 here, fetching in parallel).
  const files = [];
  for (const name of [...SAMPLE, "digits_web_bg.wasm"]) {
    files.push(await fetch(name).then(expectOk).then((r) => r.arrayBuffer()));
    loaded(name);
  }
  await init({ module_or_path: files.pop() });
  loaded("module");
  sample = files.map((buffer) => new Uint8Array(buffer));
  // What the worker fetched, for the page's own-origin check (a worker's fetches are not in
  // the page's resource timing).
  postMessage({ kind: "ready", resources: performance.getEntriesByType("resource").map((e) => e.name) });
})().catch((error) => postMessage({ kind: "error", message: `the worker could not start: ${error.message || error}` }));

function expectOk(response) {
  if (!response.ok) throw new Error(`${response.url}: HTTP ${response.status}`);
  return response;
}

onmessage = async (event) => {
  await ready;
  const message = event.data;
  try {
    handlers[message.kind](message);
  } catch (error) {
    postMessage({ kind: "error", message: String(error.message || error) });
  }
};

const handlers = {
  keys({ name, text }) {
    postMessage({ kind: "keys", name, config: JSON.parse(resolved_config(name, text)) });
  },
  start({ name, text, overrides }) {
    stop();
    let fresh;
    try {
      fresh = new Trainer(name, text, overrides, new SampleFiles(...sample.map((bytes) => bytes.slice())));
    } catch (error) {
      // The command line's refusal: nothing starts.
      postMessage({ kind: "refused", message: String(error.message || error) });
      return;
    }
    trainer = fresh;
    [pending, lastReport, trainMs, trainImages] = [null, 0, 0, 0];
    postMessage({
      kind: "started",
      parameters: trainer.parameters(),
      splits: Array.from(trainer.split_sizes()),
      note: trainer.note(),
      firstLayer: JSON.parse(trainer.first_layer()),
      testImages: trainer.test_images(TEST_ROW),
      guesses: trainer.test_guesses(TEST_ROW),
    });
    resume();
  },
  pause() {
    running = false;
    flush(true);
    postMessage({ kind: "paused" });
  },
  resume,
  step() {
    if (!trainer || running || trainer.is_done()) return;
    trainFor(1, Infinity);
    flush(true);
  },
  reset() {
    stop();
    postMessage({ kind: "reset" });
  },
  read({ rgba, width, height, id }) {
    const t0 = performance.now();
    const input = prepare(rgba, width, height);
    const reading = trainer && input.length ? JSON.parse(trainer.read(input)) : null;
    postMessage({ kind: "reading", id, input, reading, workerMs: performance.now() - t0 });
  },
  download() {
    if (!trainer) return;
    const bytes = trainer.run_folder(Date.now() / 1000);
    postMessage({ kind: "run", bytes }, [bytes.buffer]);
  },
};

function stop() {
  running = false;
  if (trainer) trainer.free();
  trainer = null;
}

function resume() {
  if (!trainer || running || trainer.is_done()) return;
  running = true;
  postMessage({ kind: "running" });
  loop();
}

// Trains in slices of about SLICE_MS, yielding between them so messages (pause, a drawing to
// read) are answered; a MessageChannel yields without setTimeout's 4 ms clamp.
const channel = new MessageChannel();
channel.port1.onmessage = () => loop();
function loop() {
  if (!running || !trainer) return;
  const progress = trainFor(Infinity, SLICE_MS);
  flush(progress.finished_epochs.length > 0 || progress.done);
  if (progress.done) {
    running = false;
    postMessage({ kind: "done", diverged: progress.diverged || null });
    return;
  }
  channel.port2.postMessage(null);
}

function trainFor(steps, budgetMs) {
  const progress = JSON.parse(trainer.train(Math.min(steps, 1e9), budgetMs));
  trainMs += progress.milliseconds;
  trainImages += progress.images;
  pending = merge(pending, progress);
  return progress;
}

// Progress of several calls as one: the latest position, the steps' means weighted by images.
function merge(into, next) {
  if (!into) return { ...next, epochsFinished: next.finished_epochs };
  const images = into.images + next.images;
  const mean = (a, b) => (images ? (a * into.images + b * next.images) / images : a);
  return {
    ...next,
    images,
    loss: mean(into.loss, next.loss),
    accuracy: mean(into.accuracy, next.accuracy),
    learning_rate: mean(into.learning_rate, next.learning_rate),
    // A call that only scored took no step: it has no norms.
    grad_norms: next.images ? next.grad_norms.map((n, i) => mean(into.grad_norms[i] ?? n, n)) : into.grad_norms,
    epochsFinished: into.epochsFinished.concat(next.finished_epochs),
  };
}

function flush(force) {
  const now = performance.now();
  if (!pending || (!force && now - lastReport < REPORT_MS)) return;
  lastReport = now;
  postMessage({
    kind: "progress",
    progress: pending,
    imagesPerSecond: trainMs > 0 ? (1000 * trainImages) / trainMs : 0,
    firstLayer: JSON.parse(trainer.first_layer()),
    guesses: trainer.test_guesses(TEST_ROW),
  });
  pending = null;
}
