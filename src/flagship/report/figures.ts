import { JSDOM } from 'jsdom';
import * as Plot from '@observablehq/plot';

/**
 * The paper's Figure 1, regenerated as static SVG: Observable Plot rendered against a jsdom
 * document, so that the site needs no JavaScript to show it and the PDF gets vector art.
 * Notebook 04 draws it in its `fig-fgsm` cell and the report places that cell's output
 * (`{{embed 04-fgsm#fig-fgsm}}`). The data extraction is pure and separate from the drawing.
 */

/** The paper's stated values for Figure 1 (§3): what our points are compared with. */
export const PAPER_FIGURE1 = {
  /** FGSM success on the undistilled network, eps = 0.3. */
  baselineSuccessRate: 0.8803,
  /** "smaller than 1.5%" at T = 100: an upper bound, drawn as such. */
  t100UpperBound: 0.015,
} as const;

export interface TemperaturePoint {
  temperature: number;
  value: number;
  /** The result name the value came from, e.g. `fgsm.T100.successRate`. */
  name: string;
}

export interface Figure1Data {
  points: TemperaturePoint[];
  /** Our FGSM success on the undistilled baseline, when published. */
  baseline?: number;
  /**
   * The control: FGSM on the baseline with its logits multiplied by T (no training), from
   * `fgsm.baselineLogitsX<T>.successRate`; at T = 1 it is the baseline itself.
   */
  scaledBaseline: TemperaturePoint[];
  /** Range over seeds of the distilled points that were replicated (`seeds.fgsm.T<T>.successRate.min|max|n`). */
  ranges: Array<{ temperature: number; min: number; max: number; n: number }>;
  /**
   * The same attack with the sign of the exact gradient (`fgsmExact.T<T>.successRate`, free of
   * float32's cancellation and underflow), per temperature.
   */
  exactPoints: TemperaturePoint[];
}

/** Every `fgsm.baselineLogitsX<T>.<suffix>` result (the logits x T control), by temperature. */
export function scaledBaselineSeries(results: Record<string, unknown>, prefix: string, suffix: string): TemperaturePoint[] {
  return temperatureSeries(results, prefix, suffix, 'baselineLogitsX');
}

/** Every `<prefix>.T<T>.<suffix>` numeric result, sorted by temperature. */
export function temperatureSeries(results: Record<string, unknown>, prefix: string, suffix: string, model = 'T'): TemperaturePoint[] {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^${esc(prefix)}\\.${esc(model)}(\\d+(?:\\.\\d+)?)\\.${esc(suffix)}$`);
  const out: TemperaturePoint[] = [];
  for (const [name, value] of Object.entries(results)) {
    const m = re.exec(name);
    if (m && typeof value === 'number' && Number.isFinite(value)) out.push({ temperature: Number(m[1]), value, name });
  }
  return out.sort((a, b) => a.temperature - b.temperature);
}

export function figure1Data(results: Record<string, unknown>): Figure1Data {
  const b = results['fgsm.baseline.successRate'];
  const baseline = typeof b === 'number' && Number.isFinite(b) ? b : undefined;
  const scaled = scaledBaselineSeries(results, 'fgsm', 'successRate');
  const points = temperatureSeries(results, 'fgsm', 'successRate');
  const ranges: Figure1Data['ranges'] = [];
  for (const p of points) {
    const [min, max, n] = ['min', 'max', 'n'].map((k) => results[`seeds.fgsm.T${p.temperature}.successRate.${k}`]);
    if (typeof min === 'number' && typeof max === 'number' && typeof n === 'number') ranges.push({ temperature: p.temperature, min, max, n });
  }
  return {
    points,
    ...(baseline !== undefined ? { baseline } : {}),
    scaledBaseline: scaled.length > 0 && baseline !== undefined ? [{ temperature: 1, value: baseline, name: 'fgsm.baseline.successRate' }, ...scaled] : scaled,
    ranges,
    exactPoints: temperatureSeries(results, 'fgsmExact', 'successRate'),
  };
}

let sharedDocument: Document | undefined;
function plotDocument(): Document {
  sharedDocument ??= new JSDOM('<!DOCTYPE html><html><body></body></html>').window.document;
  return sharedDocument;
}

/** Renders Plot options to an SVG element (jsdom); the caller may annotate it before serialising. */
export function plotToElement(options: Plot.PlotOptions): SVGSVGElement {
  const el = Plot.plot({ ...options, document: plotDocument() }) as unknown as SVGSVGElement;
  if (el.tagName.toLowerCase() !== 'svg') {
    // A legend turns the plot into a <figure>; report figures keep legends as text marks.
    throw new Error('plotToElement: expected an <svg> (do not ask Plot for a legend here)');
  }
  el.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  return el;
}

const FONT = 'system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif';
const OURS = '#1f5fa8';
const PAPER = '#c2410c';
const CONTROL = '#6b7280';
const EXACT = '#15803d';

/**
 * Tags each circle of the mark whose group has `aria-description=label` (Plot puts a mark's
 * `ariaDescription` on its group) with a class and its temperature.
 */
function tagMarks(svg: SVGSVGElement, label: string, className: string, points: TemperaturePoint[]): void {
  const group = [...svg.querySelectorAll('g')].find((g) => g.getAttribute('aria-description') === label);
  const circles = group ? [...group.querySelectorAll('circle')] : [];
  circles.forEach((c, i) => {
    const p = points[i];
    if (!p) return;
    c.setAttribute('class', className);
    c.setAttribute('data-temperature', String(p.temperature));
    c.setAttribute('data-value', String(p.value));
    const title = c.ownerDocument.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = `T = ${p.temperature}: ${(p.value * 100).toFixed(2)}%`;
    c.appendChild(title);
  });
}

/**
 * Figure 1 of the paper, regenerated: FGSM success rate (eps = 0.3) against the distillation
 * temperature on a log axis. Our points and line in blue, one `<circle class="fig1-point"
 * data-temperature=T>` per temperature; the paper's stated values in orange: the baseline's
 * 88.03% as a dashed rule and the "< 1.5% at T = 100" bound as a downward triangle. The
 * control in grey, dashed with hollow points: the baseline with its logits multiplied by T.
 * In green: the same attack with the exact gradient's sign (`fgsmExact`), what FGSM
 * does when float32's cancellation does not decide the direction. Where several seeds were
 * run, a translucent bar spans their range.
 */
export function figure1Svg(results: Record<string, unknown>): string {
  const data = figure1Data(results);
  const temps = data.points.map((p) => p.temperature);
  const xMin = Math.min(1, ...temps);
  const xMax = Math.max(100, ...temps);
  const pct = (v: number) => v * 100;
  const marks: Plot.Markish[] = [
    Plot.ruleY([0], { stroke: '#999' }),
    Plot.ruleY([pct(PAPER_FIGURE1.baselineSuccessRate)], { stroke: PAPER, strokeDasharray: '6,4', ariaDescription: 'paper-baseline' }),
    Plot.text([{ x: xMax, y: pct(PAPER_FIGURE1.baselineSuccessRate) }], {
      x: 'x', y: 'y', text: () => 'paper, no distillation: 88.03%', textAnchor: 'end', dy: -7, fill: PAPER, ariaDescription: 'paper-baseline-label',
    }),
    Plot.dot([{ x: 100, y: pct(PAPER_FIGURE1.t100UpperBound) }], {
      x: 'x', y: 'y', symbol: 'triangle', rotate: 180, r: 6, stroke: PAPER, fill: 'white', strokeWidth: 1.5, ariaDescription: 'paper-t100',
    }),
    Plot.text([{ x: 100, y: pct(PAPER_FIGURE1.t100UpperBound) }], {
      x: 'x', y: 'y', text: () => 'paper: < 1.5% at T = 100', textAnchor: 'end', dx: -10, dy: -12, fill: PAPER, ariaDescription: 'paper-t100-label',
    }),
  ];
  if (data.baseline !== undefined) {
    marks.push(
      Plot.ruleY([pct(data.baseline)], { stroke: OURS, strokeDasharray: '2,3', ariaDescription: 'ours-baseline' }),
      Plot.text([{ x: xMax, y: pct(data.baseline) }], {
        x: 'x', y: 'y', text: () => `ours, no distillation: ${pct(data.baseline!).toFixed(2)}%`, textAnchor: 'end', dy: 12, fill: OURS, ariaDescription: 'ours-baseline-label',
      }),
    );
  }
  if (data.scaledBaseline.length > 0) {
    const y = (p: TemperaturePoint) => pct(p.value);
    // Labelled below-left of its last point above 15%, in the descent: the lower left of the
    // plot is empty there, away from the paper's T = 100 bound and the baselines' labels.
    const mid = [...data.scaledBaseline].reverse().find((p) => p.value >= 0.15) ?? data.scaledBaseline[0]!;
    marks.push(
      Plot.line(data.scaledBaseline, { x: 'temperature', y, stroke: CONTROL, strokeWidth: 1.5, strokeDasharray: '5,3', ariaDescription: 'control-line' }),
      Plot.dot(data.scaledBaseline, { x: 'temperature', y, r: 3.5, stroke: CONTROL, fill: 'white', strokeWidth: 1.5, ariaDescription: 'control-points' }),
      Plot.text([mid], { x: 'temperature', y, text: () => 'control: baseline, logits × T (no training)', textAnchor: 'end', dx: -10, dy: 14, fill: CONTROL, ariaDescription: 'control-label' }),
    );
  }
  if (data.exactPoints.length > 0) {
    const y = (p: TemperaturePoint) => pct(p.value);
    const last = data.exactPoints.at(-1)!;
    marks.push(
      Plot.line(data.exactPoints, { x: 'temperature', y, stroke: EXACT, strokeWidth: 2, ariaDescription: 'exact-line' }),
      Plot.dot(data.exactPoints, { x: 'temperature', y, r: 3.5, fill: EXACT, stroke: 'white', ariaDescription: 'exact-points' }),
      Plot.text([last], { x: 'temperature', y, text: () => 'same attack, exact gradient', textAnchor: 'end', dx: -8, dy: last.value > 0.5 ? 14 : -10, fill: EXACT, ariaDescription: 'exact-label' }),
    );
  }
  if (data.ranges.length > 0) {
    marks.push(Plot.ruleX(data.ranges, { x: 'temperature', y1: (r: { min: number }) => pct(r.min), y2: (r: { max: number }) => pct(r.max), stroke: OURS, strokeWidth: 3, strokeOpacity: 0.45, ariaDescription: 'seed-ranges' }));
  }
  if (data.points.length > 0) {
    marks.push(
      Plot.line(data.points, { x: 'temperature', y: (p: TemperaturePoint) => pct(p.value), stroke: OURS, strokeWidth: 2, ariaDescription: 'ours-line' }),
      Plot.dot(data.points, { x: 'temperature', y: (p: TemperaturePoint) => pct(p.value), r: 4, fill: OURS, stroke: 'white', ariaDescription: 'ours-points' }),
    );
  } else {
    marks.push(Plot.text([{ x: Math.sqrt(xMin * xMax), y: 50 }], {
      x: 'x', y: 'y', text: () => 'not run: no fgsm.T<T>.successRate result in this build', fill: '#a00', fontSize: 13, ariaDescription: 'not-run',
    }));
  }
  const svg = plotToElement({
    ...temperatureFrame(xMin, xMax, 380),
    y: { domain: [0, 100], label: 'FGSM success rate (%)', labelAnchor: 'center', grid: true, ticks: 10 },
    marks,
    ariaLabel: 'Figure 1: FGSM success rate against distillation temperature',
  });
  svg.setAttribute('id', 'figure1-svg');
  svg.setAttribute('role', 'img');
  tagMarks(svg, 'ours-points', 'fig1-point', data.points);
  tagMarks(svg, 'control-points', 'fig1-control-point', data.scaledBaseline);
  tagMarks(svg, 'exact-points', 'fig1-exact-point', data.exactPoints);
  return svg.outerHTML;
}

/** Size, margins, style and the log-temperature x axis shared by the report's figures. */
function temperatureFrame(xMin: number, xMax: number, height: number): Plot.PlotOptions {
  return {
    width: 640,
    height,
    marginLeft: 56,
    marginBottom: 44,
    marginRight: 24,
    style: { fontFamily: FONT, fontSize: '12px', background: 'white', color: '#222' },
    x: {
      type: 'log', domain: [xMin, xMax], label: 'Distillation temperature T (log scale)', labelAnchor: 'center', labelOffset: 36,
      ticks: [1, 2, 5, 10, 20, 50, 100].filter((t) => t >= xMin && t <= xMax), tickFormat: (d: number) => String(d),
    },
  };
}
