// The JS units, under node's own test runner. The expected values come from the Python side:
// tests/test_web.py writes them with Pillow and the app's functions, then runs `node --test web/test/`
// with BACKDOOR_WEB_FIXTURES pointing at them; run alone, only the self-contained checks run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as P from "../pipeline.js";
import { bits, flipVerdict, inputPicture, percent, stripVerdict } from "../present.js";
import { scores, shrink, windows } from "../finder.js";

const fixtures = process.env.BACKDOOR_WEB_FIXTURES ? JSON.parse(readFileSync(process.env.BACKDOOR_WEB_FIXTURES, "utf8")) : null;
const withFixtures = { skip: fixtures ? false : "no fixtures: run through tests/test_web.py" };
const bytes = (b64) => Uint8ClampedArray.from(Buffer.from(b64, "base64"));

test("round() sends halves to the even neighbour, as Python does", () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(P.roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test("a bad frame is refused in words; a good one is cut in whole pixels", () => {
  assert.throws(() => P.parseFrame("0.5,0.5"), P.InputError);
  assert.throws(() => P.parseFrame("0.6,0,0.5,1"), /left < right/);
  assert.equal(P.parseFrame("  "), null);
  assert.deepEqual(P.frameBox(P.parseFrame("0.1, 0.2, 0.8, 0.9"), 100, 50), [10, 10, 80, 45]);
  assert.deepEqual(P.frameBox([0.999, 0.999, 1, 1], 3, 3), [2, 2, 3, 3]);
});

test("an empty canvas has no digit, and a blob of ink is asked to be drawn bigger", () => {
  const white = new Uint8ClampedArray(280 * 280 * 4).fill(255);
  assert.equal(P.digitFromDrawing(white, 280, 280), null);
  const blob = white.slice();
  for (let r = 100; r < 130; r++) for (let c = 100; c < 130; c++) blob.fill(0, (r * 280 + c) * 4, (r * 280 + c) * 4 + 3);
  assert.throws(() => P.digitFromDrawing(blob, 280, 280), /draw the digit bigger/);
});

test("the trigger box sits just outside the trigger's pixels, in red", () => {
  const x = new Float32Array(28 * 28);
  const picture = inputPicture(P.applyTrigger(x, 28, { kind: "patch", side: 1, color: [1] }, 3, 3), 1, 28, 4, [3, 3, 1]);
  const at = (r, c) => Array.from(picture.subarray((r * 112 + c) * 4, (r * 112 + c) * 4 + 3));
  assert.deepEqual(at(11, 11), [255, 0, 0]);
  assert.deepEqual(at(12, 12), [255, 255, 255]);
  assert.deepEqual(at(16, 16), [255, 0, 0]);
  assert.deepEqual(at(17, 17), [0, 0, 0]);
});

test("every registered attack stamps what apply_trigger stamps", withFixtures, () => {
  const floats = (b64) => new Float32Array(new Uint8Array(Buffer.from(b64, "base64")).buffer);
  assert.deepEqual(new Set(fixtures.triggers.map((c) => c.spec.kind)), new Set(["patch", "blend", "warp", "note"]));
  for (const c of fixtures.triggers) {
    const [row, col] = c.at;
    const got = row === null ? P.applyTrigger(floats(c.x), c.size, c.spec) : P.applyTrigger(floats(c.x), c.size, c.spec, row, col);
    const want = floats(c.want);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
    assert.ok(worst <= 1e-5, `${c.spec.name}: off by ${worst}`);
  }
});

test("Pillow's resize, pixel for pixel", withFixtures, () => {
  for (const c of fixtures.resize) {
    const data = c.float ? new Float32Array(new Uint8Array(Buffer.from(c.data, "base64")).buffer) : bytes(c.data);
    const got = P.resize(data, c.width, c.height, c.channels, c.out_width, c.out_height, c.filter);
    const want = c.float ? new Float32Array(new Uint8Array(Buffer.from(c.want, "base64")).buffer) : bytes(c.want);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
    assert.ok(worst <= (c.float ? 1e-3 : 0), `${c.filter} ${c.width}x${c.height} -> ${c.out_width}x${c.out_height}: off by ${worst}`);
  }
});

test("drawings reach the model as the app's preprocessing leaves them", withFixtures, () => {
  for (const c of fixtures.digits) {
    let got;
    try {
      got = P.digitFromDrawing(bytes(c.rgba), c.width, c.height);
    } catch (err) {
      got = err.message;
    }
    if (typeof c.want === "string" || c.want === null) assert.equal(got, c.want);
    else assert.ok(got.every((v, i) => Math.abs(v - c.want[i]) <= 1 / 255), "a pixel differs by more than 1/255");
  }
});

test("the app's sentences: entropies, shares, STRIP's verdict and the flip line", withFixtures, () => {
  for (const [value, want] of fixtures.bits) assert.equal(bits(value), want);
  for (const [value, want] of fixtures.percent) assert.equal(percent(value), want);
  for (const c of fixtures.strip) assert.equal(stripVerdict(c.entropy, c.summary).verdict, c.verdict);
  for (const c of fixtures.flip) {
    const plain = flipVerdict(c.task, c.clean, c.backdoored, c.trigger, c.controls, c.byHand).replace(/<\/?strong>/g, "**");
    assert.equal(plain, c.want);
  }
});

test("the finder's windows and scores, as backdoor/finder.py makes them", withFixtures, () => {
  for (const c of fixtures.finder) {
    const small = shrink(bytes(c.photo), c.width, c.height);
    assert.equal(small.factor, c.factor);
    assert.deepEqual(Array.from(small.rgb), Array.from(bytes(c.small)));
    const { batch, boxes } = windows(small.rgb, small.width, small.height, 32);
    assert.deepEqual(boxes, c.boxes);
    const want = new Float32Array(new Uint8Array(Buffer.from(c.batch, "base64")).buffer);
    assert.equal(batch.length, want.length);
    assert.ok(batch.every((v, i) => v === want[i]), "a window's pixel differs");
    const logits = new Float32Array(new Uint8Array(Buffer.from(c.logits, "base64")).buffer);
    assert.deepEqual(scores(logits, 50, 43), c.scores);
  }
});
