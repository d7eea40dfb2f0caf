// The static edition's page: the lab's models run here, in the student's browser, with onnxruntime-web.
// lab.json (written by `python -m backdoor.web`) carries the tasks, the texts and the shipped results.

import * as ort from "./vendor/ort.wasm.min.mjs";
import { InputError, applyTrigger, digitFromDrawing, frameBox, onWhite, parseFrame, photoPoint, signInput, triggerBox } from "./pipeline.js";
import { MAX_ASPECT, WHOLE_SURE, best, frameText, scores, shrink, windows } from "./finder.js";
import { cameraBox, cameraMessage, grabSquare, startCamera, stopCamera } from "./camera.js";
import { differencePicture, escape, flipVerdict, inputPicture, ranked, saliencyPicture, stripVerdict } from "./present.js";

const $ = (id) => document.getElementById(id);
const MAX_PIXELS = 40_000_000; // preprocess.MAX_UPLOAD_PIXELS
const PREVIEW_SIDE = 400; // inference.PREVIEW_SIDE
const BRUSH = 10; // the app's default brush, in canvas pixels: a tap makes a trigger-sized dot
const DRAG = 8; // px a pointer must move for a drag (a frame) rather than a click (the sticker)

// The canvas takes strokes before anything else loads (lab.json, the models): a stroke drawn meanwhile keeps its ink
// and is answered once the page can (onStroke becomes answerDigit then).
const canvas = $("digit-canvas");
const pen = canvas.getContext("2d", { willReadFrequently: true });
let onStroke = () => {};

function blankCanvas() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, canvas.width, canvas.height);
}
blankCanvas();

function canvasPoint(event) {
  const box = canvas.getBoundingClientRect();
  return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
}

let last = null;
canvas.addEventListener("pointerdown", (event) => {
  canvas.setPointerCapture(event.pointerId);
  last = canvasPoint(event);
  pen.beginPath();
  pen.arc(last[0], last[1], BRUSH / 2, 0, 2 * Math.PI);
  pen.fillStyle = "#000";
  pen.fill();
  onStroke();
});
canvas.addEventListener("pointermove", (event) => {
  if (last === null) return;
  const point = canvasPoint(event);
  Object.assign(pen, { strokeStyle: "#000", lineWidth: BRUSH, lineCap: "round", lineJoin: "round" });
  pen.beginPath();
  pen.moveTo(...last);
  pen.lineTo(...point);
  pen.stroke();
  last = point;
  onStroke();
});
for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, () => { last = null; });
document.body.dataset.drawable = "true";

const lab = await (await fetch("lab.json")).json();
// The models load while the page already works: strokes drawn meanwhile keep their ink and are answered once the
// models are ready (a class on a slow network drew into a canvas that looked ready and never answered).
// A link to a hidden attack (?attack=blend) fetches that attack's model right after the clean one, not last.
const linkedModels = lab.casts.digit.models[new URLSearchParams(location.search).get("attack")?.toLowerCase()];
const models = loadModels(lab, showProgress, linkedModels ? [lab.models[linkedModels.backdoored].file] : []);
window.labTimings = []; // page compute per answer, in ms, for benchmarks/static_page.py

const CACHE = "backdoor-lab-models";
let modelsReady = false;
let digitShown = false; // a click on an empty model-input view adds nothing (the app's empty picture takes no click)

/** A downloaded file's bytes, from Cache Storage when this very file (its sha256) was fetched before: a second visit
 * costs no download. Where Cache Storage is missing (an insecure origin) or full, the network alone. */
async function download(item, onBytes) {
  const key = new URL(`${item.file}?sha256=${item.sha256}`, location.href).href;
  const store = globalThis.caches ? await caches.open(CACHE).catch(() => null) : null;
  const hit = store && (await store.match(key).catch(() => undefined));
  if (hit) {
    const bytes = await hit.arrayBuffer();
    onBytes(item.bytes);
    return bytes;
  }
  const response = await fetch(item.file, { cache: "no-cache" }); // after a rebuild, never the browser's stale copy
  if (!response.ok) throw new Error(`${item.file}: HTTP ${response.status}`);
  const reader = response.body.getReader();
  const chunks = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    onBytes(Math.min(value.length, Math.max(0, item.bytes - (got - value.length)))); // a host may unpack gzip
  }
  const bytes = await new Blob(chunks).arrayBuffer();
  // Kept under its sha256 only if it is that file (a host that unpacks the gzipped runtime sends other bytes, which
  // still work); a full quota only costs the next visit a download.
  if (store && (await sha256(bytes)) === item.sha256) store.put(key, new Response(bytes)).catch(() => {});
  return bytes;
}

async function sha256(bytes) {
  if (!globalThis.crypto?.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every model session as a promise, fetched in the order a class needs them (the runtime, the digits, the signs;
 * `first` files, a linked attack's model, after the clean digit model), with `progress(done, total)` in bytes;
 * older cached versions are dropped once all are in. */
function loadModels(lab, progress, first = []) {
  ort.env.wasm.wasmPaths = new URL("vendor/", location.href).href;
  ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which python -m http.server does not give
  const total = lab.downloads.reduce((sum, item) => sum + item.bytes, 0);
  let done = 0;
  progress(done, total);
  const counted = (n) => progress((done += n), total);
  const byFile = Object.fromEntries(lab.downloads.map((item) => [item.file, item]));
  let queue = Promise.resolve();
  const inTurn = (file) => (queue = queue.then(() => download(byFile[file], counted)));
  const runtime = inTurn(`vendor/${lab.runtime.wasm}`).then(async (packed) => {
    const head = new Uint8Array(packed, 0, 2);
    // gzip's magic bytes: a host that sends the file with Content-Encoding: gzip has unpacked it already
    ort.env.wasm.wasmBinary =
      head[0] === 0x1f && head[1] === 0x8b
        ? await new Response(new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer()
        : packed;
  });
  const session = (file) => {
    const bytes = inTurn(file);
    return runtime.then(async () => ort.InferenceSession.create(await bytes, { executionProviders: ["wasm"] }));
  };
  // Queued in lab.downloads' order (the finder before the hidden attacks' models), `first` moved up behind the
  // clean digit model: session() queues as called.
  const [clean, ...rest] = lab.downloads.slice(1).map((item) => item.file);
  const order = [clean, ...first, ...rest.filter((file) => !first.includes(file))];
  const queued = Object.fromEntries(order.map((file) => [file, session(file)]));
  const sessions = Object.fromEntries(Object.entries(lab.models).map(([name, model]) => [name, queued[model.file]]));
  const finder = queued[lab.finder];
  const all = Promise.all([...Object.values(sessions), finder]);
  all.then(() => forgetOldModels(lab)).catch(() => {});
  return { sessions, finder, all };
}

async function forgetOldModels(lab) {
  if (!globalThis.caches) return;
  const store = await caches.open(CACHE);
  const current = new Set(lab.downloads.map((item) => new URL(`${item.file}?sha256=${item.sha256}`, location.href).href));
  for (const request of await store.keys()) if (!current.has(request.url)) await store.delete(request);
}

function showProgress(done, total) {
  const mb = (bytes) => (bytes / 1e6).toFixed(1);
  for (const bar of document.querySelectorAll(".loading-bar")) Object.assign(bar, { max: total, value: done });
  for (const text of document.querySelectorAll(".loading-bytes")) text.textContent = `${mb(done)} of ${mb(total)} MB`;
}

/** Each model's { probs, saliency, entropy } for one input x (C x S x S floats), one model after another. */
async function explainAll(names, task, x) {
  const answers = {};
  for (const name of names) {
    const out = await (await models.sessions[name]).run({ x: new ort.Tensor("float32", x, [1, task.channels, task.size, task.size]) });
    answers[name] = { probs: out.probs.data, saliency: out.saliency.data, entropy: out.strip_entropy?.data[0] };
  }
  return answers;
}

/** Runs `work` now, or once more after the running call ends: the latest input always gets its answer. */
function latest(work, onError) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        try {
          await work();
        } catch (err) {
          console.error(err); // one input's surprise stays that input's: the page answers the next one
          onError(err);
        }
      } while (again);
    } finally {
      running = false;
    }
  };
}

function paint(canvas, rgba, width, height) {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
}

// --- answers -----------------------------------------------------------------------------------
function showAnswer(id, task, answer, x, shown) {
  const figure = $(id);
  const order = ranked(answer.probs, task.classes);
  const top = order[0];
  figure.dataset.top = top.label;
  figure.dataset.version = String(Number(figure.dataset.version) + 1);
  const bars = order
    .slice(0, shown)
    .map(({ label, p }) => `<li><span>${escape(label)}</span><meter min="0" max="1" value="${p}"></meter><span>${wholePercent(p)}</span></li>`)
    .join("");
  figure.innerHTML =
    `<figcaption>${lab.titles[id]}</figcaption><p class="top">${escape(top.label)}</p>` +
    `<p class="confidence">${wholePercent(top.p)}</p><ol class="bars lab-detail" aria-label="All answers">${bars}</ol>` +
    `<p class="heading lab-detail">What its answer depends on (brighter = more)</p>` +
    `<canvas class="saliency pixelated lab-detail" aria-label="Saliency map"></canvas>`;
  paint(figure.querySelector("canvas"), saliencyPicture(x, task.channels, task.size, answer.saliency), task.size, task.size);
}

/** The app's gr.Label rounds each answer to a whole percent: the panels here say what the app's say. */
function wholePercent(p) {
  return `${Math.round(100 * p)}%`;
}

function clearAnswers(ids) {
  for (const id of ids) {
    const figure = $(id);
    figure.dataset.top = "";
    figure.dataset.version = String(Number(figure.dataset.version) + 1);
    figure.innerHTML = `<figcaption>${lab.titles[id]}</figcaption>`;
  }
}

function showModelInput(canvas, task, x, outline) {
  const side = task.size * lab.viewScale;
  paint(canvas, inputPicture(x, task.channels, task.size, lab.viewScale, outline), side, side);
}

/** The models that play each role against `attack` on a tab (shipped.Cast through lab.json): { role: name }; a role
 * with no model for this attack (no repaired model) is left out. */
function castFor(tab, attack) {
  const cast = lab.casts[tab];
  return Object.fromEntries(Object.entries(cast.models[attack ?? cast.attacks[0]]).filter(([, name]) => name));
}

const panelId = (tab, role) => `${tab}-${lab.panels[role]}`;

function answerPanels(tab, task, cast, x, answers, triggerOn, outline, controls = null, byHand = false) {
  for (const role of lab.casts[tab].roles) {
    if (cast[role]) showAnswer(panelId(tab, role), task, answers[cast[role]], x, tab === "digit" ? task.classes.length : 5);
    else clearAnswers([panelId(tab, role)]);
  }
  const top = (role) => ranked(answers[cast[role]].probs, task.classes)[0].label;
  $(`${tab}-flip`).innerHTML = flipVerdict(task, top("clean"), top("backdoored"), triggerOn, controls, byHand);
  $(`${tab}-strip`).innerHTML = stripVerdict(answers[cast.backdoored].entropy, lab.strip[cast.backdoored]).html;
  showModelInput($(`${tab}-input-view`), task, x, outline);
}

function noAnswer(tab, message) {
  if (tab === "digit") digitShown = false;
  clearAnswers(lab.casts[tab].roles.map((role) => panelId(tab, role)));
  if (tab === "digit") showDifference(null, null);
  $(`${tab}-flip`).innerHTML = "";
  $(`${tab}-strip`).innerHTML = "";
  const view = $(`${tab}-input-view`);
  view.getContext("2d").clearRect(0, 0, view.width, view.height);
  $(`${tab}-status`).innerHTML = message;
}

// --- digits ------------------------------------------------------------------------------------
const mnist = lab.tasks.mnist;

const answerDigit = latest(async () => {
  const started = performance.now();
  const trigger = $("digit-trigger").checked;
  let x;
  try {
    x = digitFromDrawing(pen.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return noAnswer("digit", `✏️ <strong>Cannot read this drawing</strong>: ${escape(err.message)}.`);
  }
  if (x === null) return noAnswer("digit", lab.prompts.draw);
  const attack = digitAttack();
  const cells = [...handPixels].map((key) => key.split(",").map(Number));
  for (const [row, col] of cells) x = applyTrigger(x, mnist.size, mnist.trigger, row, col); // lab._prepare_digit
  const before = x;
  const spec = lab.attacks[attack];
  if (trigger) x = applyTrigger(x, mnist.size, spec);
  if (!modelsReady) $("digit-status").innerHTML = lab.prompts.waiting;
  const cast = castFor("digit", attack);
  const answers = await explainAll(Object.values(cast), mnist, x);
  answerPanels("digit", mnist, cast, x, answers, trigger, trigger ? triggerBox(spec) : null, null, cells.length > 0);
  showDifference(trigger ? before : null, x);
  digitShown = true;
  const byHand = cells.length ? ` ${lab.prompts.byHand.replace("{cells}", cells.map(([r, c]) => `(${r}, ${c})`).join(", "))}` : "";
  $("digit-status").innerHTML = (trigger ? lab.prompts.triggerOn[attack] : lab.prompts.triggerOff) + byHand;
  window.labTimings.push({ kind: "digit", ms: performance.now() - started, attack });
}, () => noAnswer("digit", lab.prompts.unexpected));
onStroke = answerDigit;


// Pixels of the model's input the student made white by hand ("row,col"): step 4, "be the attacker".
const handPixels = new Set();
$("digit-input-view").addEventListener("click", (event) => {
  if (!digitShown) return;
  const view = event.currentTarget; // offsetX/Y: inside the border, as the picture is drawn
  const row = Math.min(mnist.size - 1, Math.max(0, Math.floor((event.offsetY / view.clientHeight) * mnist.size)));
  const col = Math.min(mnist.size - 1, Math.max(0, Math.floor((event.offsetX / view.clientWidth) * mnist.size)));
  const key = `${row},${col}`;
  if (!handPixels.delete(key)) handPixels.add(key);
  answerDigit();
});

function clearDigit() {
  handPixels.clear();
  blankCanvas();
  $("digit-trigger").checked = false; // as in the app: a new drawing starts without the trigger
  answerDigit();
}
$("digit-clear").addEventListener("click", clearDigit);
$("digit-trigger").addEventListener("change", answerDigit);

// The attack: which trigger the box adds and which backdoored model answers (the app's digit-attack radio).
const attackChoices = $("digit-attack");
attackChoices.insertAdjacentHTML(
  "beforeend",
  lab.casts.digit.attacks
    .map((name, i) => `<label><input type="radio" name="digit-attack" value="${name}"${i ? "" : " checked"}> ${escape(lab.attackLabels[name])}</label>`)
    .join(""),
);
attackChoices.addEventListener("change", answerDigit);
function digitAttack() {
  return attackChoices.querySelector("input:checked")?.value ?? lab.casts.digit.attacks[0];
}

$("difference-gain").textContent = String(lab.differenceGain);
// "Show the difference": the trigger made visible in place of what the models see (lab.difference_view).
$("digit-difference").addEventListener("change", (event) => document.body.classList.toggle("show-difference", event.target.checked));
function showDifference(before, after) {
  const view = $("digit-difference-view");
  const side = mnist.size * lab.viewScale;
  if (before === null) return view.getContext("2d").clearRect(0, 0, view.width, view.height);
  paint(view, differencePicture(before, after, mnist.size, lab.viewScale, lab.differenceGain), side, side);
}

async function pickDigit(src) {
  const image = new Image();
  image.src = src;
  await image.decode();
  handPixels.clear();
  blankCanvas();
  pen.drawImage(image, 0, 0, canvas.width, canvas.height);
  answerDigit();
}

// --- signs -------------------------------------------------------------------------------------
const signs = lab.tasks.signs;
const photoCanvas = $("sign-photo");
const WHOLE = [0, 0, 1, 1];
const sign = { photo: null, point: null, frame: WHOLE, found: false, error: null };

/** finder.find_sign: the frame text of the window with the clean model's largest logit, or null for the whole. */
async function findSign(photo) {
  const clean = await models.sessions[castFor("sign").clean];
  const finder = await models.finder;
  const size = signs.size;
  const whole = signInput(photo.rgb, photo.width, photo.height, signs, false, null, null).x;
  const first = await clean.run({ x: new ort.Tensor("float32", whole, [1, 3, size, size]) });
  if (Math.max(...first.probs.data) >= WHOLE_SURE) return null;
  if (Math.max(photo.width, photo.height) > MAX_ASPECT * Math.min(photo.width, photo.height)) return null;
  const small = shrink(photo.rgb, photo.width, photo.height);
  if (Math.min(small.width, small.height) < size) return null;
  const { batch, boxes } = windows(small.rgb, small.width, small.height, size);
  const classes = signs.classes.length;
  const logits = new Float32Array(boxes.length * classes);
  const chunk = 256; // as the app runs them: memory stays bounded
  for (let i = 0; i < boxes.length; i += chunk) {
    const n = Math.min(chunk, boxes.length - i);
    const part = batch.subarray(i * 3 * size * size, (i + n) * 3 * size * size);
    const out = await finder.run({ x: new ort.Tensor("float32", part, [n, 3, size, size]) });
    logits.set(out.logits.data, i * classes);
  }
  const [left, top, right, bottom] = boxes[best(scores(logits, boxes.length, classes), boxes)];
  const f = small.factor;
  return frameText([(left * f) / photo.width, (top * f) / photo.height, (right * f) / photo.width, (bottom * f) / photo.height]);
}

/** A File or Blob -> { rgb, width, height, bitmap }, or an InputError that says why not, before decoding a bomb. */
async function readPhoto(blob) {
  const url = URL.createObjectURL(blob);
  try {
    const image = new Image();
    image.src = url;
    try {
      await new Promise((resolve, reject) => {
        image.onload = resolve;
        image.onerror = reject;
      });
    } catch {
      throw new InputError("This file is not an image we can read (PNG, JPEG, GIF, WebP, BMP).");
    }
    const { naturalWidth: width, naturalHeight: height } = image;
    if (width * height > MAX_PIXELS) {
      throw new InputError(`This image is ${width}x${height} pixels, too large; please upload one under 40 megapixels.`);
    }
    if (!width || !height) throw new InputError("This image has no pixels.");
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    } catch {
      throw new InputError("This image file is damaged or truncated; please try another one.");
    }
    const board = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d", { willReadFrequently: true });
    board.drawImage(bitmap, 0, 0);
    const rgba = board.getImageData(0, 0, bitmap.width, bitmap.height).data;
    return { rgb: onWhite(rgba, bitmap.width, bitmap.height), width: bitmap.width, height: bitmap.height, bitmap };
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The presented sticker on a preview: the trigger's square (a note: turned by its tilt) over the model-grid cell,
 * `scale` preview pixels per grid pixel, from (x0, y0). inference.sign_input draws the same. */
function drawSticker(draw, cell, x0, y0, sx, sy) {
  const spec = signs.trigger;
  const half = spec.side / 2;
  const angle = ((spec.tilt ?? 0) * Math.PI) / 180;
  const [cy, cx] = [cell[0] + half, cell[1] + half];
  const corners = [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([u, v]) => [
    x0 + (cx + half * (u * Math.cos(angle) - v * Math.sin(angle))) * sx,
    y0 + (cy + half * (u * Math.sin(angle) + v * Math.cos(angle))) * sy,
  ]);
  draw.beginPath();
  corners.forEach(([x, y], i) => (i ? draw.lineTo(x, y) : draw.moveTo(x, y)));
  draw.closePath();
  draw.fillStyle = `rgb(${spec.color.map((c) => Math.round(255 * c)).join(", ")})`;
  draw.fill();
  draw.strokeStyle = "#000";
  draw.stroke();
}

/** A live frame: the whole frame, darker outside the square the models see, the square outlined in white. */
function showLive(cell) {
  photoCanvas.width = still.width;
  photoCanvas.height = still.height;
  const draw = photoCanvas.getContext("2d");
  draw.drawImage(still, 0, 0);
  const [left, top, side] = cameraBox(still.width, still.height, lab.cameraSquare);
  draw.fillStyle = "rgba(0, 0, 0, 0.4)";
  draw.fillRect(0, 0, still.width, top);
  draw.fillRect(0, top + side, still.width, still.height - top - side);
  draw.fillRect(0, top, left, side);
  draw.fillRect(left + side, top, still.width - left - side, side);
  draw.strokeStyle = "#fff";
  draw.lineWidth = 3;
  draw.strokeRect(left, top, side, side);
  draw.lineWidth = 1;
  if (cell) drawSticker(draw, cell, left, top, side / signs.size, side / signs.size);
}

function showPhoto(photo, frame, cell) {
  if (photo.live) return showLive(cell);
  const [left, top, right, bottom] = frameBox(frame, photo.width, photo.height);
  const scale = PREVIEW_SIDE / Math.max(right - left, bottom - top);
  photoCanvas.width = Math.max(1, Math.round((right - left) * scale));
  photoCanvas.height = Math.max(1, Math.round((bottom - top) * scale));
  const draw = photoCanvas.getContext("2d");
  draw.drawImage(photo.bitmap, left, top, right - left, bottom - top, 0, 0, photoCanvas.width, photoCanvas.height);
  if (cell) drawSticker(draw, cell, 0, 0, photoCanvas.width / signs.size, photoCanvas.height / signs.size);
}

const answerSign = latest(async () => {
  const started = performance.now();
  const { photo, point, frame, found } = sign; // this answer's state: a new photo may arrive during the awaits
  if (photo === null) {
    photoCanvas.getContext("2d").clearRect(0, 0, photoCanvas.width, photoCanvas.height);
    return noAnswer("sign", sign.error ?? lab.prompts.sign);
  }
  const sticker = $("sign-sticker").checked;
  const { x: unstickered, cell } = signInput(photo.rgb, photo.width, photo.height, signs, false, point, frame);
  const x = sticker ? applyTrigger(unstickered, signs.size, signs.trigger, cell[0], cell[1]) : unstickered;
  const cast = castFor("sign");
  const answers = await explainAll(Object.values(cast), signs, x);
  const clean = ranked(answers[cast.clean].probs, signs.classes)[0].label;
  const controls = sticker
    ? await cleanControls(unstickered, cell, clean).catch((err) => {
        console.error(err); // the answer stands without the line's extra words
        return null;
      })
    : null;
  if (sign.photo !== photo) return; // a newer photo's answer is queued
  showPhoto(photo, frame, sticker ? cell : null);
  const outline = sticker ? triggerBox(signs.trigger, cell[0], cell[1]) : null;
  answerPanels("sign", signs, cast, x, answers, sticker, outline, controls);
  if (photo.live) {
    $("sign-status").innerHTML = camera.frozen ? lab.prompts.cameraFrozen : lab.prompts.cameraOn;
    window.labTimings.push({ kind: "camera", ms: performance.now() - photo.grabbed });
    return;
  }
  $("sign-status").innerHTML = (sticker ? lab.prompts.stickerOn : lab.prompts.stickerOff) + (found ? ` ${lab.prompts.found}` : "");
  window.labTimings.push({ kind: "sign", ms: performance.now() - started });
}, () => noAnswer("sign", lab.prompts.unexpected));

/** lab.Lab._clean_controls: [the clean model's top class without the sticker, how many notes of other colours in
 * its place move it too, of how many], through the finder's graph (the clean model's logits). The eight notes run
 * only where the sticker moved the clean model (`clean`, its answer with the sticker), the one case the line reads
 * the count (null otherwise): a batch of nine on every answer cost the page ~6 ms. */
async function cleanControls(unstickered, cell, clean) {
  const size = signs.size;
  const classes = signs.classes.length;
  const tried = lab.otherColours.length;
  const tops = async (batch, n) => {
    const out = await (await models.finder).run({ x: new ort.Tensor("float32", batch, [n, 3, size, size]) });
    return Array.from({ length: n }, (_, i) => ranked(out.logits.data.subarray(i * classes, (i + 1) * classes), signs.classes)[0].label);
  };
  const [bare] = await tops(unstickered, 1);
  if (bare === clean) return [bare, null, tried];
  const batch = new Float32Array(tried * unstickered.length);
  lab.otherColours.forEach((color, i) => batch.set(applyTrigger(unstickered, size, { ...signs.trigger, color }, cell[0], cell[1]), i * unstickered.length));
  return [bare, (await tops(batch, tried)).filter((top) => top !== bare).length, tried];
}

let uploads = 0; // numbers each new photo, so that a slow finder's frame never lands on a newer photo

async function newPhoto(blob) {
  endCamera();
  const ticket = ++uploads;
  Object.assign(sign, { photo: null, point: null, frame: WHOLE, found: false, error: null });
  $("sign-status").textContent = modelsReady ? "Looking for the sign…" : "Looking for the sign as soon as the models are loaded…";
  let photo;
  let found = null;
  try {
    photo = await readPhoto(blob);
    const started = performance.now();
    found = await findSign(photo).catch((err) => {
      console.error(err); // no frame, then: the whole photo is still worth an answer
      return null;
    });
    window.labTimings.push({ kind: "find", ms: performance.now() - started });
  } catch (err) {
    if (ticket !== uploads) return;
    sign.error = err instanceof InputError ? `⚠️ <strong>Cannot use this file</strong>: ${escape(err.message)}` : lab.prompts.unexpected;
    return answerSign();
  }
  if (ticket !== uploads) return;
  Object.assign(sign, { photo, frame: found === null ? WHOLE : parseFrame(found), found: found !== null });
  answerSign();
}

$("sign-file").addEventListener("change", (event) => {
  if (event.target.files.length) newPhoto(event.target.files[0]);
});
$("sign-sticker").addEventListener("change", answerSign);
$("sign-unframe").addEventListener("click", () => {
  sign.frame = WHOLE;
  sign.found = false;
  answerSign();
});

function previewPoint(event) {
  const box = photoCanvas.getBoundingClientRect();
  return [
    Math.min(Math.max(((event.clientX - box.left) * photoCanvas.width) / box.width, 0), photoCanvas.width - 1),
    Math.min(Math.max(((event.clientY - box.top) * photoCanvas.height) / box.height, 0), photoCanvas.height - 1),
  ];
}

let pressed = null;
photoCanvas.addEventListener("pointerdown", (event) => {
  if (sign.photo === null || sign.photo.live) return; // a live frame: the note goes in the middle of the square
  photoCanvas.setPointerCapture(event.pointerId);
  pressed = { at: previewPoint(event), client: [event.clientX, event.clientY] };
});
photoCanvas.addEventListener("pointerup", (event) => {
  if (pressed === null || sign.photo === null || sign.photo.live) return;
  const end = previewPoint(event);
  const moved = Math.hypot(event.clientX - pressed.client[0], event.clientY - pressed.client[1]);
  const { width, height } = sign.photo;
  const toPhoto = (p) => photoPoint(width, height, sign.frame, p.map(Math.floor), PREVIEW_SIDE);
  if (moved < DRAG || event.pointerType === "touch") {
    sign.point = toPhoto(end);
    $("sign-sticker").checked = true;
  } else {
    const [a, b] = [toPhoto(pressed.at), toPhoto(end)];
    const frame = [Math.min(a[0], b[0]) / width, Math.min(a[1], b[1]) / height, Math.max(a[0], b[0]) / width, Math.max(a[1], b[1]) / height];
    sign.frame = frame.map((v) => Math.min(Math.max(v, 0), 1));
    sign.found = false;
    if (!(sign.frame[0] < sign.frame[2] && sign.frame[1] < sign.frame[3])) sign.frame = WHOLE;
  }
  pressed = null;
  answerSign();
});

// --- the live camera: each frame's square, read as a photo, as fast as the models answer -----------------------
const video = $("sign-video");
const still = document.createElement("canvas"); // the frame being answered, kept for the preview and a freeze
const camera = { stream: null, frozen: false, starting: false, loop: 0 }; // loop: the one frame loop that may run

function cameraButtons() {
  const on = camera.stream !== null;
  $("sign-camera").textContent = on ? "Stop the camera" : "Use the camera";
  $("sign-camera").setAttribute("aria-pressed", String(on));
  $("sign-freeze").hidden = !on;
  $("sign-freeze").textContent = camera.frozen ? "Unfreeze" : "Freeze";
  $("sign-freeze").setAttribute("aria-pressed", String(camera.frozen));
}

/** Stop the camera, if it runs; the last frame's answers stay until something else is answered. */
function endCamera() {
  if (camera.stream === null) return;
  stopCamera(video, camera.stream);
  Object.assign(camera, { stream: null, frozen: false });
  cameraButtons();
}

/** Answer frame after frame, each once the last is answered; a new loop (unfreeze, a new start) ends the old one. */
async function liveFrame(loop = ++camera.loop) {
  if (camera.stream === null || camera.frozen || loop !== camera.loop) return;
  if (video.readyState >= 2) {
    const square = grabSquare(video, still, PREVIEW_SIDE, lab.cameraSquare);
    Object.assign(sign, { photo: { ...square, live: true, grabbed: performance.now() }, point: null, frame: WHOLE, found: false, error: null });
    await answerSign();
    if (window.labTimings.length > 1000) window.labTimings.splice(0, 500); // a camera adds ~50 a second
  }
  requestAnimationFrame(() => liveFrame(loop));
}

$("sign-camera").addEventListener("click", async () => {
  if (camera.stream !== null) {
    endCamera();
    Object.assign(sign, { photo: null, point: null, frame: WHOLE, found: false, error: null });
    return answerSign();
  }
  if (camera.starting) return;
  camera.starting = true;
  const ticket = ++uploads; // a photo still being read gives way to the camera
  try {
    const stream = await startCamera(video);
    if (ticket !== uploads) return stopCamera(video, stream); // a photo or Start over came during the prompt
    camera.stream = stream;
    stream.getVideoTracks()[0]?.addEventListener("ended", () => { // unplugged, or the permission taken back
      endCamera();
      $("sign-status").innerHTML = cameraMessage({ name: "other" }, lab.cameraProblems, lab.prompts.cameraProblem);
    });
    cameraButtons();
    liveFrame();
    // On a phone the examples fill the screen: bring the picture and the answers into view (as pickSign does).
    if (window.innerWidth <= 640) $("sign-photo").scrollIntoView({ block: "start", behavior: "smooth" });
  } catch (err) {
    console.error(err);
    $("sign-status").innerHTML = cameraMessage(err, lab.cameraProblems, lab.prompts.cameraProblem);
  } finally {
    camera.starting = false;
  }
});
$("sign-freeze").addEventListener("click", () => {
  camera.frozen = !camera.frozen;
  cameraButtons();
  if (camera.frozen) $("sign-status").innerHTML = lab.prompts.cameraFrozen;
  else liveFrame();
});

async function pickSign(src) {
  // On a phone the examples fill the screen: bring the photo and the answers into view (as the app does).
  if (window.innerWidth <= 640) $("sign-photo").scrollIntoView({ block: "start", behavior: "smooth" });
  await newPhoto(await (await fetch(src)).blob());
}

// --- the page: tabs, examples, details, start over, links ---------------------------------------
const TABS = ["digits", "signs", "attack", "defend"];
function selectTab(name) {
  for (const tab of TABS) {
    const on = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(on));
    $(`tab-${tab}`).tabIndex = on ? 0 : -1;
    $(tab).hidden = !on;
  }
}
TABS.forEach((tab, i) => {
  const button = $(`tab-${tab}`);
  button.addEventListener("click", () => selectTab(tab));
  button.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = TABS[(i + step + TABS.length) % TABS.length];
    selectTab(next);
    $(`tab-${next}`).focus();
  });
});

function examples(container, items, pick) {
  $(container).innerHTML = items
    .map((item, i) => `<button type="button" data-i="${i}" aria-label="${escape(item.label)}"><img src="${item.src}" alt="" loading="lazy"><span>${escape(item.caption)}</span></button>`)
    .join("");
  $(container).addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button) pick(items[Number(button.dataset.i)].src);
  });
}

for (const [id, html] of Object.entries(lab.html)) $(id).innerHTML = html;
examples("digit-examples", lab.examples.digits, pickDigit);
examples("sign-examples", lab.examples.signs, pickSign);

const details = $("show-details");
details.addEventListener("change", () => document.body.classList.toggle("lab-details", details.checked));
$("reset").addEventListener("click", () => {
  endCamera();
  $("sign-sticker").checked = false;
  uploads++; // a finder still running for the last photo is ignored
  Object.assign(sign, { photo: null, point: null, frame: WHOLE, found: false, error: null });
  $("sign-file").value = "";
  photoCanvas.getContext("2d").clearRect(0, 0, photoCanvas.width, photoCanvas.height);
  attackChoices.querySelector("input").checked = true; // the next student starts on the pixel, as in the app
  $("digit-difference").checked = false;
  document.body.classList.remove("show-difference");
  clearDigit();
  answerSign();
});

const query = new URLSearchParams(location.search);
details.checked = query.get("details") === "1";
document.body.classList.toggle("lab-details", details.checked);
if (TABS.includes(query.get("tab"))) selectTab(query.get("tab"));
const linkedAttack = (query.get("attack") || "").toLowerCase(); // ?attack=blend, as the app's link
const linkedChoice = attackChoices.querySelector(`input[value="${CSS.escape(linkedAttack)}"]`);
if (linkedChoice) linkedChoice.checked = true;
const wanted = (query.get("example") || "").toLowerCase();
const opening = (async () => {
  if (wanted && query.get("tab") === "signs") {
    const found = lab.examples.signs.find((item) => item.caption.toLowerCase().includes(wanted));
    if (found) return pickSign(found.src);
  } else if (wanted) {
    const found = lab.examples.digits.find((item) => item.caption === wanted);
    if (found) return pickDigit(found.src);
  }
  return Promise.all([answerDigit(), answerSign()]);
})();
try {
  await models.all;
} catch (err) {
  console.error(err);
  document.body.classList.remove("loading"); // no veil promising models that will not come
  for (const id of ["loading", "digit-status", "sign-status"]) $(id).innerHTML = lab.prompts.loadFailed;
  throw err;
}
modelsReady = true;
document.body.classList.remove("loading");
$("loading").hidden = true;
await opening;
await Promise.all([answerDigit(), answerSign()]); // whatever was drawn or picked while the models loaded
document.body.dataset.ready = "true";

// For the parity tests and benchmarks: the same pipeline as the page, on given pixels.
window.backdoorLab = {
  async digit(rgba, width, height, trigger, attack = lab.casts.digit.attacks[0]) {
    let x;
    try {
      x = digitFromDrawing(rgba, width, height);
    } catch (err) {
      return { error: err.message };
    }
    if (x === null) return null;
    if (trigger) x = applyTrigger(x, mnist.size, lab.attacks[attack]);
    return { x: Array.from(x), answers: await plain(Object.values(castFor("digit", attack)), mnist, x) };
  },
  async sign(blob, sticker, point, frame) {
    const photo = await readPhoto(blob).catch((err) => ({ error: err.message }));
    if (photo.error) return photo;
    const { x } = signInput(photo.rgb, photo.width, photo.height, signs, sticker, point, frame);
    return { x: Array.from(x), answers: await plain(Object.values(castFor("sign")), signs, x) };
  },
  async find(blob) {
    return (await findSign(await readPhoto(blob))) ?? "0,0,1,1";
  },
};

async function plain(names, task, x) {
  const answers = await explainAll(names, task, x);
  const out = {};
  for (const name of names) {
    const { probs, saliency, entropy } = answers[name];
    out[name] = { probs: Array.from(probs), saliency: Array.from(saliency), entropy: entropy ?? null };
    if (entropy !== undefined) out[name].strip = stripVerdict(entropy, lab.strip[name]).verdict;
  }
  return out;
}
