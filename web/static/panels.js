// What both pages draw the same way: the drawing pad, the ten probabilities, and the first
// layer's weights as pictures.

// A drawing pad on `canvas`: strokes from a mouse, a finger or a pen (pointer events), black
// on white; `onStroke` after each piece of a stroke. Its 2D context, and `clear`.
export function drawingPad(canvas, onStroke) {
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let last = null;
  const position = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  const stroke = (from, to, pressure) => {
    // A pen's pressure thickens the line a little; a mouse reports 0.5.
    context.strokeStyle = "#000";
    context.lineWidth = 18 * (0.75 + 0.5 * (pressure || 0.5));
    context.lineCap = "round";
    context.beginPath();
    context.moveTo(from[0], from[1]);
    context.lineTo(to[0], to[1]);
    context.stroke();
    onStroke();
  };
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    last = position(event);
    stroke(last, last, event.pressure);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const next = position(event);
    stroke(last, next, event.pressure);
    last = next;
  });
  for (const end of ["pointerup", "pointercancel"]) canvas.addEventListener(end, () => (last = null));
  const clear = () => {
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
  };
  return { context, clear };
}

// The answer (`#answer`) and the ten probabilities as bars (`#probabilities`); none: cleared.
export function showAnswer(reading) {
  document.getElementById("answer").textContent = reading ? reading.digit : "–";
  const list = document.getElementById("probabilities");
  if (!list.children.length) {
    for (let d = 0; d < 10; d++) {
      list.insertAdjacentHTML("beforeend", `<li><span>${d}</span><span class="bar"><span></span></span><span class="value"></span></li>`);
    }
  }
  [...list.children].forEach((item, d) => {
    const p = reading ? reading.probabilities[d] : 0;
    item.querySelector(".bar span").style.width = `${(100 * p).toFixed(1)}%`;
    item.querySelector(".value").textContent = reading ? `${(100 * p).toFixed(1)} %` : "";
    item.classList.toggle("best", !!reading && d === reading.digit);
  });
}

// The first layer's weights (the module's `first_layer`) as one picture per neuron or filter
// in `box`, its canvases reused when drawn again.
export function showWeights(box, first) {
  const size = first.side * first.side;
  while (box.children.length > first.count) box.lastChild.remove();
  for (let n = 0; n < first.count; n++) {
    let canvas = box.children[n];
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.width = canvas.height = first.side;
      canvas.title = `${first.kind === "conv" ? "filter" : "neuron"} ${n + 1}`;
      box.appendChild(canvas);
    }
    const values = first.values.slice(n * size, (n + 1) * size);
    const top = Math.max(...values.map(Math.abs), 1e-6);
    const context = canvas.getContext("2d");
    const image = context.createImageData(first.side, first.side);
    values.forEach((w, i) => {
      const t = Math.abs(w) / top;
      // As weights.png: red excites (positive), blue inhibits (negative).
      const rgb = w >= 0 ? [255, 255 * (1 - 0.8 * t), 255 * (1 - 0.8 * t)] : [255 * (1 - t), 255 * (1 - 0.5 * t), 255];
      image.data.set([...rgb.map(Math.round), 255], 4 * i);
    });
    context.putImageData(image, 0, 0);
  }
}
