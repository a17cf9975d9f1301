import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import {
  adversarialGallery, difference, digitToPng, divergingColour, perturbationToPng, pngDataUri,
} from '../src/flagship/ml/images.ts';

function pixel(png: PNG, x: number, y: number): number[] {
  const o = (y * png.width + x) * 4;
  return [...png.data.subarray(o, o + 4)];
}

test('a digit renders as a scaled greyscale PNG, ink dark by default', () => {
  const digit = new Float32Array(784);
  digit[0] = 1; // top-left pixel fully inked
  digit[29] = 0.5;
  const png = PNG.sync.read(digitToPng(digit, { scale: 3 }));
  assert.equal(png.width, 84);
  assert.equal(png.height, 84);
  assert.deepEqual(pixel(png, 2, 2), [0, 0, 0, 255]);
  assert.deepEqual(pixel(png, 3, 3), [127, 127, 127, 255]);
  assert.deepEqual(pixel(png, 83, 83), [255, 255, 255, 255]);
  const mnistStyle = PNG.sync.read(digitToPng(digit, { scale: 1, inkDark: false }));
  assert.deepEqual(pixel(mnistStyle, 0, 0), [255, 255, 255, 255]);
  assert.throws(() => digitToPng(new Float32Array(10)), /expected 28 x 28/);
});

test('perturbations use a diverging map: red up, blue down, white at zero', () => {
  assert.deepEqual(divergingColour(0.3, 0.3), [255, 0, 0]);
  assert.deepEqual(divergingColour(-0.3, 0.3), [0, 0, 255]);
  assert.deepEqual(divergingColour(0, 0.3), [255, 255, 255]);
  const diff = difference(Float32Array.from([0.5, 0, 0.2, 0.2]), Float32Array.from([0.2, 0.3, 0.2, 0.2]));
  const png = PNG.sync.read(perturbationToPng(diff, { width: 2, height: 2, scale: 1 }));
  assert.deepEqual(pixel(png, 0, 0), [255, 0, 0, 255]);
  assert.deepEqual(pixel(png, 1, 0), [0, 0, 255, 255]);
  assert.deepEqual(pixel(png, 0, 1), [255, 255, 255, 255]);
});

test('a gallery lays out original, adversarial and perturbation per row', () => {
  const original = new Float32Array(784);
  const adversarial = new Float32Array(784).fill(0.3);
  const g = adversarialGallery([{ original, adversarial }, { original, adversarial: original }], { scale: 2, gap: 2 });
  assert.equal(g.width, 3 * 56 + 4 * 2);
  assert.equal(g.height, 2 * 56 + 3 * 2);
  const png = PNG.sync.read(g.png);
  assert.equal(png.width, g.width);
  assert.deepEqual(pixel(png, 2, 2), [255, 255, 255, 255]); // original: no ink
  assert.deepEqual(pixel(png, 2 + 56 + 2, 2), [178, 178, 178, 255]); // adversarial 0.3 -> 255 - round(76.5)
  assert.deepEqual(pixel(png, 2 + 2 * 58, 2), [255, 0, 0, 255]); // +0.3, its own max -> full red
  assert.deepEqual(pixel(png, 0, 0), [220, 220, 220, 255]); // gap
  assert.ok(pngDataUri(g.png).startsWith('data:image/png;base64,iVBOR'));
});
