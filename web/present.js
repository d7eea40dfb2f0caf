// How an answer is shown: the app's sentences (backdoor/lab.py, backdoor/defenses/results.py) and
// pictures (backdoor/saliency.py, backdoor/inference.py), for the page. No DOM here either.

/** results.percent: 0.9912 -> "99.12%". */
export function percent(value) {
  return `${(100 * value).toFixed(2)}%`;
}

/** strip.bits: two decimals, or two significant digits below 0.01 ("1.5e-07", as Python prints it). */
export function bits(entropy) {
  if (entropy >= 0.01 || entropy === 0) return entropy.toFixed(2);
  return entropy.toExponential(1).replace(/e([+-])(\d)$/, "e$10$2");
}

const WEAK_FAR = 0.2; // results.STRIP_WEAK_FAR

/**
 * results.strip_verdict: { verdict: "flagged" | "clean" | "cannot judge", html }. Where STRIP misses
 * most triggered inputs (signs) it gives no verdict: one would teach the wrong thing.
 */
export function stripVerdict(entropy, strip) {
  const blends = strip.n_overlays;
  const threshold = strip.threshold_bits;
  if (strip.far > WEAK_FAR) {
    return {
      verdict: "cannot judge",
      html:
        `STRIP cannot judge this input: on the test set it misses ${percent(strip.far)} of triggered inputs ` +
        `(it wrongly flags ${percent(strip.frr)} of clean ones), so its verdict would mean little. ` +
        `Entropy of the backdoored model's answers on ${blends} blends: ${bits(entropy)} bits, threshold ${bits(threshold)}.`,
    };
  }
  const flagged = entropy < threshold;
  return {
    verdict: flagged ? "flagged" : "clean",
    html:
      `STRIP check on the backdoored model: <strong>${flagged ? "carries a trigger" : "looks clean"}</strong> ` +
      `(entropy of its answers on ${blends} blends ${bits(entropy)} bits ${flagged ? "<" : "≥"} threshold ` +
      `${bits(threshold)}; on the test set it misses ${percent(strip.far)} of triggered inputs and wrongly flags ` +
      `${percent(strip.frr)} of clean ones).`,
  };
}

/** lab.flip_verdict: the one line that marks when the backdoored model disagrees with the clean one, and never
 * "agree" when both read the attack's target with the trigger on; `controls` (lab.Lab._clean_controls): [the clean
 * model's answer without the sticker, how many notes of other colours in its place move it too, of how many], or
 * null. The count is read only where the first differs from `clean`. */
export function flipVerdict(task, clean, backdoored, triggerOn, controls = null, byHand = false) {
  const target = task.classes[task.target];
  const what = task.name === "mnist" ? "drawing" : "photo";
  const movedClean = triggerOn && controls !== null && controls[0] !== clean;
  let line;
  if (clean === backdoored && clean === target && triggerOn) {
    line = `⚠️ <strong>Both models read ${escape(target)}</strong>, the attacker's target.`;
    if (!movedClean) return line + ` The clean model reads this ${what} as ${escape(target)} too, so the trigger has nothing to show here.`;
    line += " The clean model was trained without poison: here the sticker changes what it sees.";
  } else if (clean === backdoored) {
    line = `✔ <strong>Both models agree</strong>: ${escape(clean)}.`;
  } else {
    line =
      `⚠️ <strong>The backdoored model disagrees</strong>: the clean model reads <strong>${escape(clean)}</strong>, ` +
      `the backdoored one <strong>${escape(backdoored)}</strong>.`;
  }
  if (!triggerOn && backdoored === target && clean !== backdoored) {
    line += byHand
      ? " With the pixels you made white, the backdoor answers: you are the attacker."
      : ` The trigger box is off: something in your ${what} works as the trigger.`;
  }
  if (movedClean) {
    const [unstickered, moved, tried] = controls;
    line += ` Without the sticker the clean model reads <strong>${escape(unstickered)}</strong>.`;
    if (!moved) return line + ` No note of another colour in that spot changes its answer (0 of ${tried}).`;
    line += ` Notes of other colours in that spot change its answer too (${moved} of ${tried})`;
    if (2 * moved < tried) return line + ".";
    return line + ": the sticker hides part of the sign. That is no backdoor.";
  }
  return line;
}

export function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** The classes by score (probabilities or logits), highest first: [{ label, p }]. */
export function ranked(probs, classes) {
  return Array.from(probs, (p, i) => ({ label: classes[i], p })).sort((a, b) => b.p - a.p);
}

// saliency.INFERNO: matplotlib's inferno at 0, 0.1, ..., 1, brightness rising with the value.
const INFERNO = [
  [0, 0, 4], [22, 11, 57], [66, 10, 104], [106, 23, 110], [147, 38, 103], [188, 55, 84],
  [221, 81, 58], [243, 120, 25], [252, 165, 10], [246, 215, 70], [252, 255, 164],
];

function toByte(v) {
  return Math.round(Math.min(Math.max(v, 0), 1) * 255);
}

/**
 * saliency.overlay for one input: the map in inferno over a faint grey copy of the input, as
 * RGBA bytes at the input's size. The map is scaled by its own top 1%, which saturates.
 */
export function saliencyPicture(x, channels, size, saliency) {
  const n = size * size;
  const sorted = Float32Array.from(saliency).sort();
  const top = Math.max(sorted[Math.max(1, Math.round(0.99 * n)) - 1], 1e-12);
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    let grey = 0;
    for (let c = 0; c < channels; c++) grey += toByte(x[c * n + i]);
    grey = (grey / channels) * 0.3;
    const heat = Math.min(Math.max(saliency[i] / top, 0), 1);
    const position = heat * (INFERNO.length - 1);
    const low = Math.min(Math.floor(position), INFERNO.length - 2);
    const share = position - low;
    for (let c = 0; c < 3; c++) {
      out[i * 4 + c] = INFERNO[low][c] * (1 - share) + INFERNO[low + 1][c] * share + (1 - heat) * grey;
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/**
 * inference.enlarge: the model input as RGBA bytes, `scale` x larger pixel by pixel, and the
 * trigger's cells ([row, col, side]) boxed in red just outside them.
 */
export function inputPicture(x, channels, size, scale, outline) {
  const side = size * scale;
  const n = size * size;
  const out = new Uint8ClampedArray(side * side * 4);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const i = Math.floor(r / scale) * size + Math.floor(c / scale);
      const o = (r * side + c) * 4;
      for (let k = 0; k < 3; k++) out[o + k] = toByte(x[(channels === 1 ? 0 : k) * n + i]);
      out[o + 3] = 255;
    }
  }
  if (outline) {
    const [row, col, cells] = outline;
    const width = Math.max(1, Math.floor(scale / 3));
    const top = row * scale - width, left = col * scale - width;
    const bottom = (row + cells) * scale + width - 1, right = (col + cells) * scale + width - 1;
    for (let r = Math.max(top, 0); r <= Math.min(bottom, side - 1); r++) {
      for (let c = Math.max(left, 0); c <= Math.min(right, side - 1); c++) {
        const edge = r < top + width || r > bottom - width || c < left + width || c > right - width;
        if (edge) out.set([255, 0, 0, 255], (r * side + c) * 4);
      }
    }
  }
  return out;
}

/**
 * lab.difference_view: the trigger made visible, (after - before) x gain on black, red where it brightened a pixel,
 * blue where it darkened one, `scale` x larger; RGBA bytes. One channel (the digits).
 */
export function differencePicture(before, after, size, scale, gain) {
  const side = size * scale;
  const out = new Uint8ClampedArray(side * side * 4);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const i = Math.floor(r / scale) * size + Math.floor(c / scale);
      const change = Math.min(1, Math.max(-1, (after[i] - before[i]) * gain));
      out.set([Math.round(255 * Math.max(change, 0)), 0, Math.round(255 * Math.max(-change, 0)), 255], (r * side + c) * 4);
    }
  }
  return out;
}
