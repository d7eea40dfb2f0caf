// backdoor/finder.py in JS: the square windows of a photo that the clean model scores, and the choice
// of the one with its largest logit, with the same arithmetic, so that the page frames what the app frames.

import { resize, roundHalfEven } from "./pipeline.js";

export const WHOLE_SURE = 0.9;
export const SHORTER = 240;
export const SIZES = [0.2, 0.232, 0.268, 0.31, 0.359, 0.416, 0.481, 0.557, 0.645, 0.746, 0.864, 1.0];
export const STEP = 1 / 4;
export const SCORE_SCALE = 1000;
export const MAX_ASPECT = 4;

/** finder.shrink: f x f block averages (f = shorter side // target), rounding half up; and f. */
export function shrink(rgb, width, height, target = SHORTER) {
  const factor = Math.max(1, Math.floor(Math.min(width, height) / target));
  if (factor === 1) return { rgb, width, height, factor };
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const n = factor * factor;
  const out = new Uint8ClampedArray(w * h * 3);
  const sums = new Float64Array(w * 3);
  for (let r = 0; r < h; r++) {
    sums.fill(0);
    for (let dr = 0; dr < factor; dr++) {
      const row = (r * factor + dr) * width * 3;
      for (let c = 0; c < w; c++) {
        for (let dc = 0; dc < factor; dc++) {
          const i = row + (c * factor + dc) * 3;
          sums[c * 3] += rgb[i];
          sums[c * 3 + 1] += rgb[i + 1];
          sums[c * 3 + 2] += rgb[i + 2];
        }
      }
    }
    for (let k = 0; k < w * 3; k++) out[r * w * 3 + k] = Math.floor((sums[k] + Math.floor(n / 2)) / n);
  }
  return { rgb: out, width: w, height: h, factor };
}

/** finder.windows: (K x 3 x size x size) model inputs and their boxes [left, top, right, bottom]. */
export function windows(rgb, width, height, size) {
  const shorter = Math.min(width, height);
  const crops = [];
  const boxes = [];
  for (const fraction of SIZES) {
    const side = Math.max(1, roundHalfEven(fraction * shorter));
    if (side < size) continue;
    const sw = Math.max(size, roundHalfEven((width * size) / side));
    const sh = Math.max(size, roundHalfEven((height * size) / side));
    const grid = resize(rgb, width, height, 3, sw, sh, "bilinear");
    const stride = Math.max(1, roundHalfEven(size * STEP));
    const sx = width / sw, sy = height / sh;
    for (let top = 0; top + size <= sh; top += stride) {
      for (let left = 0; left + size <= sw; left += stride) {
        const crop = new Float32Array(3 * size * size);
        for (let r = 0; r < size; r++) {
          for (let c = 0; c < size; c++) {
            const i = ((top + r) * sw + left + c) * 3;
            for (let k = 0; k < 3; k++) crop[(k * size + r) * size + c] = Math.fround(grid[i + k] / 255);
          }
        }
        crops.push(crop);
        boxes.push([roundHalfEven(left * sx), roundHalfEven(top * sy), roundHalfEven((left + size) * sx), roundHalfEven((top + size) * sy)]);
      }
    }
  }
  const batch = new Float32Array(crops.length * 3 * size * size);
  crops.forEach((crop, i) => batch.set(crop, i * crop.length));
  return { batch, boxes };
}

/** finder.scores: each row's largest logit, in whole thousandths; LOWEST where it is NaN or infinite. */
export function scores(logits, count, classes) {
  const out = [];
  for (let i = 0; i < count; i++) {
    let top = -Infinity;
    for (let k = 0; k < classes; k++) top = Math.max(top, logits[i * classes + k]);
    const score = top * SCORE_SCALE;
    out.push(Number.isFinite(score) ? Math.floor(score + 0.5) : Number.MIN_SAFE_INTEGER);
  }
  return out;
}

/** The best window: the highest score, then the widest, then the first. */
export function best(scores, boxes) {
  let chosen = 0;
  for (let i = 1; i < scores.length; i++) {
    const wider = boxes[i][2] - boxes[i][0] > boxes[chosen][2] - boxes[chosen][0];
    if (scores[i] > scores[chosen] || (scores[i] === scores[chosen] && wider)) chosen = i;
  }
  return chosen;
}

/** finder.frame_text: each fraction's shortest exact decimal, so the text parses back to the same floats. */
export function frameText(frame) {
  return frame.map((v) => String(v)).join(",");
}
