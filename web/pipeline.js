// What the models see: backdoor/preprocess.py, backdoor/inference.py and backdoor/triggers.py in JS.
// Parity with the app is the contract, so this copies Pillow's resampling (Resample.c), its
// RGB -> L and alpha-compositing integer formulas, NumPy's float32 arithmetic and Python's
// round-half-to-even, step for step. No DOM here: node's test runner checks it too.

export class InputError extends Error {}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const f32 = Math.fround;

/** A new Float32Array of fn(value) for each value: a plain loop (TypedArray.from with a map function is ~10x slower). */
function mapped(values, fn) {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = fn(values[i]);
  return out;
}

// --- Pillow's resampling (src/libImaging/Resample.c) ---------------------------------------
const FILTERS = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: { support: 1.0, fn: (x) => { x = Math.abs(x); return x < 1.0 ? 1.0 - x : 0.0; } },
  lanczos: { support: 3.0, fn: (x) => (x >= -3.0 && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0) },
};
function sinc(x) {
  if (x === 0.0) return 1.0;
  x *= Math.PI;
  return Math.sin(x) / x;
}

function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = filter.support * filterscale;
  const bounds = [];
  const weights = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(Math.max(xmax, 0));
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.fn((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    if (ww !== 0.0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    bounds.push([xmin, xmax]);
    weights.push(k);
  }
  return { bounds, weights };
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
function fixedPoint(k) {
  return Int32Array.from(k, (w) => (w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE)));
}
function clip8(ss) {
  if (ss >= ONE * 256) return 255;
  if (ss <= 0) return 0;
  return Math.floor(ss / ONE);
}

/** Each output sample's weights, in Pillow's 22-bit fixed point for 8-bit images. */
function kernels(coeffs, eightBit) {
  return eightBit ? coeffs.weights.map(fixedPoint) : coeffs.weights;
}

/** Pillow's horizontal pass (ImagingResampleHorizontal_8bpc / _32bpc): every row, `outWidth` samples. */
function horizontalPass(data, width, height, channels, outWidth, coeffs, eightBit) {
  const ks = kernels(coeffs, eightBit);
  const out = eightBit ? new Uint8ClampedArray(outWidth * height * channels) : new Float32Array(outWidth * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      const [min, count] = coeffs.bounds[x];
      const k = ks[x];
      for (let c = 0; c < channels; c++) {
        let ss = eightBit ? ONE / 2 : 0.0;
        for (let i = 0; i < count; i++) ss += data[(y * width + min + i) * channels + c] * k[i];
        out[(y * outWidth + x) * channels + c] = eightBit ? clip8(ss) : ss;
      }
    }
  }
  return out;
}

/** Pillow's vertical pass on the band of rows from `first` on (the rows the horizontal pass kept). */
function verticalPass(rows, width, channels, coeffs, first, eightBit) {
  const ks = kernels(coeffs, eightBit);
  const outHeight = coeffs.bounds.length;
  const out = eightBit ? new Uint8ClampedArray(width * outHeight * channels) : new Float32Array(width * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    const [min, count] = coeffs.bounds[y];
    const k = ks[y];
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let ss = eightBit ? ONE / 2 : 0.0;
        for (let i = 0; i < count; i++) ss += rows[((min - first + i) * width + x) * channels + c] * k[i];
        out[(y * width + x) * channels + c] = eightBit ? clip8(ss) : ss;
      }
    }
  }
  return out;
}

/**
 * Pillow's Image.resize(size, filter) for an image of `channels` interleaved samples: uint8 data
 * ("RGB", "L") in Pillow's fixed point, Float32Array data (mode "F") in doubles stored as float32.
 * As Pillow does, the horizontal pass comes first and runs only on the rows the vertical pass reads.
 */
export function resize(data, width, height, channels, outWidth, outHeight, filterName) {
  const filter = FILTERS[filterName];
  const eightBit = !(data instanceof Float32Array);
  const vertical = outHeight !== height ? coefficients(height, outHeight, filter) : null;
  let rows = data;
  let first = 0;
  if (outWidth !== width) {
    let last = height;
    if (vertical) {
      const [min, count] = vertical.bounds[outHeight - 1];
      first = vertical.bounds[0][0];
      last = min + count;
    }
    const band = data.subarray(first * width * channels, last * width * channels);
    rows = horizontalPass(band, width, last - first, channels, outWidth, coefficients(width, outWidth, filter), eightBit);
  }
  if (vertical) return verticalPass(rows, outWidth, channels, vertical, first, eightBit);
  return rows === data ? data.slice() : rows; // always a new array, as Pillow returns a new image
}

// --- Pillow's colour conversions -------------------------------------------------------------
/** RGBA (any alpha) -> RGB composited onto white, as Image.alpha_composite does (AlphaComposite.c). */
export function onWhite(rgba, width, height) {
  const rgb = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const a = rgba[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      let v = 255;
      if (a === 255) v = rgba[i * 4 + c];
      else if (a !== 0) {
        const coef1 = a * 128; // a * 255 * 255 * 2^7 / (255 * 255), exact for an opaque white ground
        const coef2 = 255 * 128 - coef1;
        const tmp = rgba[i * 4 + c] * coef1 + 255 * coef2 + (0x80 << 7);
        v = (((tmp >> 8) + tmp) >> 8) >> 7;
      }
      rgb[i * 3 + c] = v;
    }
  }
  return rgb;
}

/** RGB -> L, Pillow's integer luma (Convert.c). */
export function toGrey(rgb, count) {
  const grey = new Uint8ClampedArray(count);
  for (let i = 0; i < count; i++) {
    grey[i] = (rgb[i * 3] * 19595 + rgb[i * 3 + 1] * 38470 + rgb[i * 3 + 2] * 7471 + 0x8000) >>> 16;
  }
  return grey;
}

// --- Digits: preprocess.digit_from_drawing -------------------------------------------------
export const DIGIT_BOX = 20;
export const DIGIT_SIZE = 28;
const INK_THRESHOLD = f32(0.1); // NumPy compares a float32 array with 0.1 in float32
const MNIST_STROKE = 2.9;
const MAX_STROKE_SHARE = 0.4;
const NORMALISE_SIDE = 112;

/** A grid of float32 values: { data, width, height }. */
function grid(data, width, height) {
  return { data, width, height };
}

function crop(ink) {
  let top = -1, bottom = -1, left = ink.width, right = -1;
  for (let r = 0; r < ink.height; r++) {
    for (let c = 0; c < ink.width; c++) {
      if (ink.data[r * ink.width + c] > INK_THRESHOLD) {
        if (top < 0) top = r;
        bottom = r;
        left = Math.min(left, c);
        right = Math.max(right, c);
      }
    }
  }
  if (top < 0) return null;
  const width = right - left + 1;
  const height = bottom - top + 1;
  const out = new Float32Array(width * height);
  for (let r = 0; r < height; r++) out.set(ink.data.subarray((top + r) * ink.width + left, (top + r) * ink.width + left + width), r * width);
  return grid(out, width, height);
}

function atMost(ink, side) {
  const longer = Math.max(ink.width, ink.height);
  if (longer <= side) return ink;
  const scale = side / longer;
  const width = Math.max(1, roundHalfEven(ink.width * scale));
  const height = Math.max(1, roundHalfEven(ink.height * scale));
  return grid(resize(ink.data, ink.width, ink.height, 1, width, height, "box"), width, height);
}

/** preprocess.stroke_width: 2 x area / boundary pixels of the ink above half its peak. */
export function strokeWidth(ink) {
  let peak = -Infinity;
  for (const v of ink.data) peak = Math.max(peak, v);
  const half = f32(0.5 * peak);
  const { width, height } = ink;
  const solid = (r, c) => r >= 0 && c >= 0 && r < height && c < width && ink.data[r * width + c] > half;
  let area = 0, inner = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (!solid(r, c)) continue;
      area++;
      if (solid(r - 1, c) && solid(r + 1, c) && solid(r, c - 1) && solid(r, c + 1)) inner++;
    }
  }
  const boundary = area - inner;
  return boundary ? (2 * area) / boundary : 0.0;
}

/** One 3x3 min or max filter pass on uint8 samples, the edge repeated (Pillow's RankFilter). */
function rank3(data, width, height, grow) {
  const out = new Uint8Array(width * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      let v = grow ? 0 : 255;
      for (let dr = -1; dr <= 1; dr++) {
        const rr = Math.min(Math.max(r + dr, 0), height - 1);
        for (let dc = -1; dc <= 1; dc++) {
          const s = data[rr * width + Math.min(Math.max(c + dc, 0), width - 1)];
          v = grow ? Math.max(v, s) : Math.min(v, s);
        }
      }
      out[r * width + c] = v;
    }
  }
  return out;
}

/** preprocess.with_mnist_strokes: strokes eroded or dilated to MNIST's width at the final scale. */
function withMnistStrokes(ink) {
  const width = strokeWidth(ink);
  if (width === 0) return ink;
  const target = (MNIST_STROKE * Math.max(ink.width, ink.height)) / DIGIT_BOX;
  const steps = roundHalfEven(Math.abs(width - target) / 2);
  if (Math.abs(width - target) < 0.25 * target || steps === 0) return ink;
  const w = ink.width + 2 * steps;
  const h = ink.height + 2 * steps;
  let pixels = new Uint8Array(w * h);
  for (let r = 0; r < ink.height; r++) {
    for (let c = 0; c < ink.width; c++) pixels[(r + steps) * w + c + steps] = Math.trunc(f32(ink.data[r * ink.width + c] * 255));
  }
  const grow = width < target;
  const passes = grow ? steps : Math.min(steps, Math.max(0, roundHalfEven(width / 2) - 1));
  for (let i = 0; i < passes; i++) pixels = rank3(pixels, w, h, grow);
  return grid(mapped(pixels, (v) => f32(v / 255)), w, h);
}

/**
 * A drawing (RGBA bytes, dark ink on light or transparent) -> the 28x28 model input as
 * Float32Array(784), or null if there is no ink. Throws InputError for a blob of ink.
 */
export function digitFromDrawing(rgba, width, height) {
  const grey = toGrey(onWhite(rgba, width, height), width * height);
  const ink = mapped(grey, (v) => f32(1 - f32(v / 255)));
  return digitFromInk(grid(ink, width, height));
}

export function digitFromInk(ink) {
  let box = crop(ink);
  if (box === null) return null;
  box = atMost(box, NORMALISE_SIDE);
  if (strokeWidth(box) > MAX_STROKE_SHARE * Math.max(box.width, box.height)) {
    throw new InputError("the strokes are too thick for so small a drawing; please draw the digit bigger");
  }
  const normalised = crop(withMnistStrokes(box));
  if (normalised !== null) box = normalised;
  const scale = DIGIT_BOX / Math.max(box.width, box.height);
  const width = Math.max(1, roundHalfEven(box.width * scale));
  const height = Math.max(1, roundHalfEven(box.height * scale));
  const scaled = resize(mapped(box.data, (v) => f32(v * 255)), box.width, box.height, 1, width, height, "lanczos");
  const rows = new Float64Array(width * height);
  const cols = new Float64Array(width * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      scaled[i] = Math.min(Math.max(f32(scaled[i] / 255), 0), 1);
      rows[i] = r * scaled[i];
      cols[i] = c * scaled[i];
    }
  }
  // NumPy's sums, to the last bit: the centre of mass decides a whole pixel's shift when it lands on a half.
  const total = pairwiseSum(scaled, f32);
  if (total <= 0) return null;
  const rowMass = pairwiseSum(rows, Number);
  const colMass = pairwiseSum(cols, Number);
  let top = roundHalfEven(DIGIT_SIZE / 2 - 0.5 - rowMass / total);
  let left = roundHalfEven(DIGIT_SIZE / 2 - 0.5 - colMass / total);
  top = Math.min(Math.max(top, 0), DIGIT_SIZE - height);
  left = Math.min(Math.max(left, 0), DIGIT_SIZE - width);
  const out = new Float32Array(DIGIT_SIZE * DIGIT_SIZE);
  for (let r = 0; r < height; r++) out.set(scaled.subarray(r * width, (r + 1) * width), (top + r) * DIGIT_SIZE + left);
  return out;
}

/** NumPy's pairwise summation (loops_utils.h), rounding each addition with `round` (Math.fround: float32). */
function pairwiseSum(a, round, start = 0, n = a.length) {
  if (n < 8) {
    let res = 0;
    for (let i = start; i < start + n; i++) res = round(res + a[i]);
    return res;
  }
  if (n <= 128) {
    const r = Array.from(a.subarray(start, start + 8));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[start + i + j]);
    let res = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
    for (; i < n; i++) res = round(res + a[start + i]);
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return round(pairwiseSum(a, round, start, half) + pairwiseSum(a, round, start + half, n - half));
}

// --- Triggers: triggers.apply_trigger for one (C, H, W) image -------------------------------
// One function per registered kind, as backdoor/triggers.py has one class per kind; each spec comes from lab.json
// (Trigger.web_spec), its seeded pattern or flow field written out by Python.
const STAMPS = {
  /** triggers.Patch: a `side`-pixel square of `color`, top-left at (row, col). */
  patch(x, size, spec, row, col) {
    const out = Float32Array.from(x);
    spec.color.forEach((value, c) => {
      for (let r = row; r < Math.min(row + spec.side, size); r++) {
        for (let k = col; k < Math.min(col + spec.side, size); k++) out[(c * size + r) * size + k] = value;
      }
    });
    return out;
  },
  /** triggers.Blend: (1 - weight) x + weight pattern, in float32 as torch computes it. */
  blend(x, size, spec) {
    const w = Math.fround(spec.weight);
    const keep = Math.fround(1 - spec.weight);
    return Float32Array.from(x, (v, i) => Math.fround(Math.fround(keep * v) + Math.fround(w * spec.pattern[i])));
  },
  /** triggers.Warp: grid_sample(x, flow, bilinear, zeros, align_corners=True), clamped to [0, 1]. */
  warp(x, size, spec) {
    const out = new Float32Array(x.length);
    const channels = x.length / (size * size);
    const at = (c, r, k) => (r < 0 || r >= size || k < 0 || k >= size ? 0 : x[(c * size + r) * size + k]);
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const ix = ((spec.flow[(i * size + j) * 2] + 1) / 2) * (size - 1);
        const iy = ((spec.flow[(i * size + j) * 2 + 1] + 1) / 2) * (size - 1);
        const x0 = Math.floor(ix);
        const y0 = Math.floor(iy);
        const wx = ix - x0;
        const wy = iy - y0;
        for (let c = 0; c < channels; c++) {
          const v =
            at(c, y0, x0) * (1 - wx) * (1 - wy) + at(c, y0, x0 + 1) * wx * (1 - wy) +
            at(c, y0 + 1, x0) * (1 - wx) * wy + at(c, y0 + 1, x0 + 1) * wx * wy;
          out[(c * size + i) * size + j] = Math.min(1, Math.max(0, v));
        }
      }
    }
    return out;
  },
  /** triggers.Note, presented (`Note.at`): the paper square `side` px wide turned `tilt` degrees, its box's top-left
   * at (row, col), its coverage counted on samples x samples points per pixel, its colour the paper's times the
   * picture's white point (each channel's 0.9 quantile, as torch.quantile interpolates it), over the picture. */
  note(x, size, spec, row, col) {
    const out = new Float32Array(x.length);
    const channels = x.length / (size * size);
    const s = spec.samples;
    const half = spec.side / 2;
    const centreRow = row + half;
    const centreCol = col + half;
    const angle = spec.tilt * (Math.PI / 180);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const alpha = new Float64Array(size * size);
    for (let r = 0; r < size * s; r++) {
      const dy = (r + 0.5) / s - centreRow;
      for (let k = 0; k < size * s; k++) {
        const dx = (k + 0.5) / s - centreCol;
        if (Math.abs(cos * dx + sin * dy) <= half && Math.abs(cos * dy - sin * dx) <= half) {
          alpha[Math.floor(r / s) * size + Math.floor(k / s)] += 1;
        }
      }
    }
    for (let c = 0; c < channels; c++) {
      const plane = x.subarray(c * size * size, (c + 1) * size * size);
      const light = Math.min(1, Math.max(0, Math.max(quantile(plane, 0.9), 0.05) * spec.color[c]));
      for (let i = 0; i < size * size; i++) {
        const a = alpha[i] / (s * s);
        out[c * size * size + i] = Math.min(1, Math.max(0, plane[i] * (1 - a) + light * a));
      }
    }
    return out;
  },
};

/** torch.quantile(values, q) with its linear interpolation (torch.lerp's two-sided formula), in doubles. */
function quantile(values, q) {
  const sorted = Float64Array.from(values).sort();
  const rank = q * (sorted.length - 1);
  const below = Math.floor(rank);
  const weight = rank - below;
  const lo = sorted[below];
  const hi = sorted[Math.min(below + 1, sorted.length - 1)];
  return weight < 0.5 ? lo + weight * (hi - lo) : hi - (hi - lo) * (1 - weight);
}

/** A copy of `x` (C x size x size floats) with the attack `spec` stamped; a patch at (row, col), by default
 * its own. */
export function applyTrigger(x, size, spec, row = spec.row, col = spec.col) {
  const stamp = STAMPS[spec.kind];
  if (!stamp) throw new Error(`unknown attack kind ${spec.kind}`);
  return stamp(x, size, spec, row, col);
}

/** The square a view outlines for the spec, [row, col, side] (triggers.Trigger.box), or null. */
export function triggerBox(spec, row = spec.row, col = spec.col) {
  return spec.side !== undefined && row !== null && row !== undefined ? [row, col, spec.side] : null; // a patch, a note
}

// --- Signs: inference.sign_input ----------------------------------------------------------
/** inference.parse_frame: "l,t,r,b" fractions -> [l, t, r, b], null for the whole photo; throws InputError. */
export function parseFrame(text) {
  if (!text || !text.trim()) return null;
  const parts = text.replace(/ /g, "").split(",");
  const values = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === "") || values.some((v) => Number.isNaN(v))) {
    throw new InputError("give the frame as four numbers: left, top, right, bottom (fractions of the photo)");
  }
  const [l, t, r, b] = values;
  if (!(l >= 0 && l < r && r <= 1 && t >= 0 && t < b && b <= 1)) {
    throw new InputError("the frame needs 0 <= left < right <= 1 and 0 <= top < bottom <= 1");
  }
  return values;
}

/** inference.frame_box: the frame in photo pixels [left, top, right, bottom], at least one pixel. */
export function frameBox(frame, width, height) {
  if (frame === null) return [0, 0, width, height];
  const left = Math.min(Math.trunc(frame[0] * width), width - 1);
  const top = Math.min(Math.trunc(frame[1] * height), height - 1);
  const right = Math.max(left + 1, roundHalfEven(frame[2] * width));
  const bottom = Math.max(top + 1, roundHalfEven(frame[3] * height));
  return [left, top, Math.min(right, width), Math.min(bottom, height)];
}

/** inference.sticker_cell: the sticker's top-left cell, centred on the point (photo pixels) or the middle. */
export function stickerCell(side, size, point, width, height) {
  const [centreRow, centreCol] = point === null ? [size / 2, size / 2] : [(point[1] / height) * size, (point[0] / width) * size];
  const limit = size - side;
  return [
    Math.min(Math.max(roundHalfEven(centreRow - side / 2), 0), limit),
    Math.min(Math.max(roundHalfEven(centreCol - side / 2), 0), limit),
  ];
}

/** inference.photo_point: where a click on the preview (its pixel index) lands on the photo. */
export function photoPoint(width, height, frame, previewPoint, previewSide) {
  const [left, top, right, bottom] = frameBox(frame, width, height);
  const scale = previewSide / Math.max(right - left, bottom - top);
  return [left + (previewPoint[0] + 0.5) / scale, top + (previewPoint[1] + 0.5) / scale];
}

/**
 * A photo (RGB bytes) -> { x: Float32Array(3 * size * size), cell: [row, col] }: cut to its frame,
 * stretched to size x size with Pillow's bilinear filter, the sticker stamped where it is on.
 */
export function signInput(rgb, width, height, task, sticker, point, frame) {
  const [left, top, right, bottom] = frameBox(frame, width, height);
  let pixels = rgb;
  let w = width, h = height;
  if (left !== 0 || top !== 0 || right !== width || bottom !== height) {
    w = right - left;
    h = bottom - top;
    pixels = new Uint8ClampedArray(w * h * 3);
    for (let r = 0; r < h; r++) pixels.set(rgb.subarray(((top + r) * width + left) * 3, ((top + r) * width + right) * 3), r * w * 3);
    if (point !== null) point = [point[0] - left, point[1] - top];
  }
  const cell = stickerCell(task.trigger.side, task.size, point, w, h);
  const small = resize(pixels, w, h, 3, task.size, task.size, "bilinear");
  const s = task.size;
  let x = new Float32Array(3 * s * s);
  for (let i = 0; i < s * s; i++) for (let c = 0; c < 3; c++) x[c * s * s + i] = f32(small[i * 3 + c] / 255);
  if (sticker) x = applyTrigger(x, s, task.trigger, cell[0], cell[1]);
  return { x, cell };
}
