import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSDOM } from 'jsdom';
import { figure1Data, figure1Svg, temperatureSeries } from '../src/flagship/report/figures.ts';
import { safePngDataUrl, sanitizeSvg } from '../src/engine/report/sanitize.ts';

const svgDoc = (svg: string) => new JSDOM(`<body>${svg}</body>`).window.document;

const results = {
  'fgsm.baseline.successRate': 0.8421,
  'fgsm.T100.successRate': 0.011,
  'fgsm.T1.successRate': 0.81,
  'fgsm.T10.successRate': 0.12,
  'fgsm.T20.successRate': 'not a number',
  'fgsmTemperature.T5.successRate': 0.9,
  'saturation.T2.zeroGradientFraction': 0.1,
};

test('Figure 1 data: FGSM success per temperature, sorted, numbers only', () => {
  const data = figure1Data(results);
  assert.deepEqual(data.points.map((p) => [p.temperature, p.value]), [[1, 0.81], [10, 0.12], [100, 0.011]]);
  assert.equal(data.points[2]!.name, 'fgsm.T100.successRate');
  assert.equal(data.baseline, 0.8421);
  assert.equal(figure1Data({}).baseline, undefined);
  assert.deepEqual(temperatureSeries(results, 'fgsmTemperature', 'successRate').map((p) => p.temperature), [5], 'prefixes do not bleed into each other');
});

test('Figure 1 SVG: one mark per temperature, a log axis, and the paper\'s values marked distinctly', () => {
  const svg = figure1Svg(results);
  const doc = svgDoc(svg);
  const marks = [...doc.querySelectorAll('circle.fig1-point')];
  assert.deepEqual(marks.map((c) => c.getAttribute('data-temperature')), ['1', '10', '100']);
  // Log scale: 1→10 and 10→100 span the same distance on the x axis.
  const cx = marks.map((c) => {
    const t = /translate\(([\d.]+)/.exec(c.getAttribute('transform') ?? '');
    return t ? Number(t[1]) : Number(c.getAttribute('cx'));
  });
  assert.ok(Math.abs((cx[1]! - cx[0]!) - (cx[2]! - cx[1]!)) < 0.5, `log spacing, got ${cx.join(', ')}`);
  assert.ok(cx[0]! < cx[1]! && cx[1]! < cx[2]!);
  const text = doc.body.textContent!;
  assert.match(text, /88\.03%/);
  assert.match(text, /< 1\.5% at T = 100/);
  assert.match(text, /ours, no distillation: 84\.21%/);
  assert.ok(doc.querySelector('g[aria-description="paper-t100"]'), 'the T = 100 bound is its own mark');
  assert.equal(doc.querySelectorAll('script').length, 0);
});

test('Figure 1 draws the logits x T control from the baseline and the range over seeds', () => {
  const withControls = {
    ...results,
    'fgsm.baselineLogitsX10.successRate': 0.3,
    'fgsm.baselineLogitsX100.successRate': 0.05,
    'seeds.fgsm.T100.successRate.min': 0.005, 'seeds.fgsm.T100.successRate.max': 0.02, 'seeds.fgsm.T100.successRate.n': 3,
  };
  const data = figure1Data(withControls);
  assert.deepEqual(data.scaledBaseline.map((p) => [p.temperature, p.value]), [[1, 0.8421], [10, 0.3], [100, 0.05]], 'at T = 1 the control is the baseline');
  assert.deepEqual(data.points.map((p) => p.temperature), [1, 10, 100], 'the control does not leak into the distilled series');
  assert.deepEqual(data.ranges, [{ temperature: 100, min: 0.005, max: 0.02, n: 3 }]);
  const doc = svgDoc(figure1Svg(withControls));
  assert.deepEqual([...doc.querySelectorAll('circle.fig1-control-point')].map((c) => c.getAttribute('data-temperature')), ['1', '10', '100']);
  assert.ok(doc.querySelector('g[aria-description="seed-ranges"]'));
  assert.match(doc.body.textContent!, /logits × T/);
  assert.deepEqual(figure1Data(results).scaledBaseline, [], 'no control published, none drawn');
});

test('Figure 1 without results still draws the paper\'s values and says "not run"', () => {
  const doc = svgDoc(figure1Svg({}));
  assert.equal(doc.querySelectorAll('circle.fig1-point').length, 0);
  assert.match(doc.body.textContent!, /not run/);
  assert.match(doc.body.textContent!, /88\.03%/);
});

test('sanitizeSvg keeps the drawing and removes everything that could run or fetch', () => {
  const evil = `<svg xmlns="http://www.w3.org/2000/svg" width="10" onload="alert(1)" viewBox="0 0 10 10">
    <style>.a{fill:red}</style><style>@import url(http://evil.example/x.css);</style>
    <script>alert(2)</script>
    <g class="keep" style="fill: url(http://evil.example/p)"><rect class="r" x="1" y="1" width="2" height="2" fill="url(#grad)" onclick="alert(3)"/></g>
    <a href="javascript:alert(4)"><text x="1" y="9">label</text></a>
    <use href="#r"/><use href="http://evil.example/s.svg#x"/>
    <foreignObject><img src="x" onerror="alert(5)"></foreignObject>
    <image href="http://evil.example/i.png"/>
    <circle cx="5" cy="5" r="1" fill="url(http://evil.example/f)"/>
  </svg>`;
  const out = sanitizeSvg(evil);
  const doc = svgDoc(out);
  assert.equal(doc.querySelectorAll('script, foreignObject, foreignobject, image, img').length, 0);
  assert.doesNotMatch(out, /\son\w+=/i);
  assert.doesNotMatch(out, /javascript:|evil\.example/);
  assert.ok(doc.querySelector('rect.r'), 'ordinary drawing survives');
  assert.equal(doc.querySelector('rect.r')!.getAttribute('fill'), 'url(#grad)', 'an in-document url() reference is kept');
  assert.equal(doc.querySelector('g.keep')!.getAttribute('style'), null);
  assert.equal(doc.querySelectorAll('style').length, 1, 'a style that imports is dropped, a plain one kept');
  assert.equal(doc.querySelectorAll('use').length, 2);
  assert.equal(doc.querySelectorAll('use[href]').length, 1, 'only the fragment href survives');
  assert.match(doc.body.textContent!, /label/);
  assert.equal(sanitizeSvg('<p>no svg here</p>'), '');
});

test('safePngDataUrl accepts only plain base64', () => {
  assert.equal(safePngDataUrl('iVBORw0K\nGgo='), 'data:image/png;base64,iVBORw0KGgo=');
  assert.equal(safePngDataUrl('abc" onerror="x'), undefined);
  assert.equal(safePngDataUrl(''), undefined);
});

test('Figure 1 draws FGSM with the exact gradient beside the float32 attack, one point per temperature', () => {
  const withExact = { ...results, 'fgsmExact.T1.successRate': 0.86, 'fgsmExact.T100.successRate': 0.7, 'fgsmExact.baseline.successRate': 0.86 };
  const data = figure1Data(withExact);
  assert.deepEqual(data.exactPoints.map((p) => [p.temperature, p.value]), [[1, 0.86], [100, 0.7]]);
  assert.deepEqual(data.points.map((p) => p.temperature), [1, 10, 100], 'the exact series does not leak into the float32 one');
  const doc = svgDoc(figure1Svg(withExact));
  assert.deepEqual([...doc.querySelectorAll('circle.fig1-exact-point')].map((c) => c.getAttribute('data-value')), ['0.86', '0.7']);
  assert.match(doc.body.textContent!, /exact gradient/);
  assert.equal(svgDoc(figure1Svg(results)).querySelectorAll('circle.fig1-exact-point').length, 0, 'absent when not run');
});
