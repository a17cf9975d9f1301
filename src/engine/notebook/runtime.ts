import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { codeHash } from '../store/code-fingerprint.ts';
import type { CodeCell, DisplayItem, NotebookDocument, Params, PublishedResult, CellOutput } from '../core/records.ts';
import { ArtifactStore, describeCorrupt, unionOfChains, type ArtifactEvent } from '../store/artifacts.ts';
import { asItem, encodePng, markdown, md, toDisplayItem, toJsonSafe, toTable, type PixelImage } from './display.ts';
import type { ProgressReporter } from '../util/progress.ts';
import { createProgress } from '../util/terminal-progress.ts';
import { terminalStream, writeTerminal } from './capture.ts';

/**
 * The globals a cell sees: display, publish, params, artifacts, progress, notebook, md,
 * plot, document. One Runtime per notebook execution; `current` points at the running cell.
 */

export interface NotebookInfo {
  name: string;
  path: string;
  title: string;
  /** Absolute project root and notebook file. */
  root: string;
  file: string;
  profile: string | null;
  /** 0-based index of the running cell. */
  readonly cellIndex: number;
}

export interface RecordedArtifactEvent { type: ArtifactEvent['type']; id: string; kind: string; reason?: string; cellIndex: number }

export interface CellState { cell: CodeCell; outputs: CellOutput[] }

export interface Display {
  (value: unknown): void;
  markdown(text: string): void;
  text(text: string): void;
  table(rows: Array<Record<string, unknown>>, caption?: string): void;
  image(image: PixelImage | { shape: number[]; dataSync(): ArrayLike<number> }, alt?: string): void;
  svg(svg: string, caption?: string): void;
  json(value: unknown): void;
}

export class Runtime {
  current: CellState | null = null;
  readonly results: PublishedResult[] = [];
  readonly artifactEvents: RecordedArtifactEvent[] = [];
  readonly globals: Record<string, unknown>;
  readonly artifacts: ArtifactStore;
  private jsdomDocument: Document | null = null;

  constructor(readonly root: string, readonly doc: NotebookDocument, readonly profile: string | null, params: Params,
    options: { progress?: ProgressReporter; quietArtifacts?: boolean } = {}) {
    const self = this;
    const artifacts = this.artifacts = new ArtifactStore(join(root, '.reprobook', 'artifacts'), {
      onEvent(e) {
        const rec: RecordedArtifactEvent = { type: e.type, id: e.id, kind: e.kind, cellIndex: self.current?.cell.index ?? -1 };
        if (e.type === 'corrupt') {
          rec.reason = e.reason;
          writeTerminal(`  ${describeCorrupt(e)}`);
        } else if (!options.quietArtifacts && e.type !== 'miss') {
          writeTerminal(`  artifact ${e.kind} ${e.id.slice(0, 12)}: ${e.type === 'hit' ? 'reused' : e.type}\n`);
        }
        self.artifactEvents.push(rec);
      },
    });
    const info: NotebookInfo = {
      name: doc.name, path: doc.path, title: doc.frontMatter.title, root, file: join(root, doc.path), profile,
      get cellIndex() { return self.current?.cell.index ?? -1; },
    };
    const show = (item: DisplayItem | null) => { if (item) this.emit({ type: 'display', item: this.decorate(item) }); };
    const display = ((value: unknown) => show(toDisplayItem(value))) as Display;
    display.markdown = (text) => show({ kind: 'markdown', markdown: String(text) });
    display.text = (text) => show({ kind: 'text', text: String(text) });
    display.table = (rows, caption) => show(toTable(rows, caption));
    display.image = (image, alt) => {
      const item = 'shape' in image ? toDisplayItem(image) : encodePng(image.width, image.height, image.data, alt);
      if (item && item.kind === 'image' && alt) item.alt = alt;
      show(item);
    };
    display.svg = (svg, caption) => show(caption ? { kind: 'svg', svg, caption } : { kind: 'svg', svg });
    display.json = (value) => show({ kind: 'json', value: toJsonSafe(value) });

    // `artifacts`: the ids of the stored artifacts the value was computed from (e.g. a grid
    // report's chains), so that `reprobook verify` can recompute just those.
    // `count`: for a rate, the k successes of n trials behind it, from which the report draws
    // its binomial interval.
    const publish = (name: string, value: unknown, options: { artifacts?: string[] | null; count?: { k: number; n: number } } = {}) => {
      if (typeof name !== 'string' || name.trim() === '') throw new TypeError('publish(name, value): name must be a non-empty string');
      const ids = options?.artifacts;
      if (ids != null && !(Array.isArray(ids) && ids.every((id) => typeof id === 'string' && /^[0-9a-f]{64}$/.test(id)))) {
        throw new TypeError(`publish('${name}', value, { artifacts }): artifacts must be an array of artifact ids (64 hex digits), e.g. a grid report's chains[unitId]`);
      }
      const count = options?.count;
      if (count !== undefined && !(count && Number.isInteger(count.k) && Number.isInteger(count.n) && count.n > 0 && count.k >= 0 && count.k <= count.n)) {
        throw new TypeError(`publish('${name}', value, { count }): count must be { k, n }, whole numbers with 0 <= k <= n and n > 0, got ${JSON.stringify(count)}`);
      }
      const cell = this.current?.cell;
      const r: PublishedResult = { name, value: toJsonSafe(value), notebook: doc.name, cellIndex: cell?.index ?? -1 };
      if (cell?.options.label) r.cellLabel = cell.options.label;
      if (ids != null) r.artifacts = unionOfChains([ids])!;
      if (count !== undefined) r.count = { k: count.k, n: count.n };
      const at = this.results.findIndex((x) => x.name === name);
      if (at >= 0) this.results.splice(at, 1);
      this.results.push(r);
    };

    // Synchronous, like Plot.plot: prepare() loads Plot and jsdom before the cells run.
    const plot = (opts: Record<string, unknown> = {}) => {
      if (!this.plotModule || !this.jsdomDocument) throw new Error('plot() is unavailable: Observable Plot was not loaded');
      return this.plotModule.plot({ ...opts, document: this.jsdomDocument } as Parameters<typeof import('@observablehq/plot').plot>[0]);
    };

    // For artifact keys that must change when the project code computing them changes:
    // artifacts.memoJson({ kind, inputs: { ...params, code: await sources('../src/train.ts') } }, ...)
    const sources = (...specs: string[]) => codeHash(specs, { base: root, fromDir: dirname(join(root, doc.path)) });

    this.globals = {
      sources,
      // esbuild turns TypeScript's `import x = require('y')` into a require() call.
      require: createRequire(join(root, doc.path)),
      display, publish, md, markdown, plot, asItem,
      params: Object.freeze(structuredClone(params)),
      artifacts,
      progress: options.progress ?? createProgress({ stream: terminalStream() }),
      notebook: info,
    };
    Object.defineProperty(this.globals, 'document', { enumerable: true, get: () => this.jsdomDocument });
    Object.defineProperty(this.globals, 'Plot', { enumerable: true, get: () => this.plotModule });
  }

  private plotModule: typeof import('@observablehq/plot') | null = null;

  /** Load Observable Plot and a jsdom document when the cells use them (both are slow to import). */
  async prepare(): Promise<void> {
    const code = this.doc.blocks.map((b) => (b.kind === 'code' ? b.source : '')).join('\n');
    if (/\bplot\s*\(|\bPlot\b|\bdocument\b|@observablehq\/plot/.test(code)) {
      this.plotModule = await import('@observablehq/plot');
      await this.document();
    }
  }

  /** A jsdom document for rendering figures on the server (loaded on first use: jsdom is slow to import). */
  async document(): Promise<Document> {
    if (!this.jsdomDocument) {
      const { JSDOM } = await import('jsdom');
      const { addCanvasTo } = await import('./plot-canvas.ts');
      const { window } = new JSDOM('<!doctype html><html><body></body></html>');
      // Plot's continuous legends and raster marks draw on a canvas, which jsdom lacks.
      await addCanvasTo(window as unknown as { HTMLCanvasElement: { prototype: object } });
      this.jsdomDocument = window.document as unknown as Document;
    }
    return this.jsdomDocument;
  }

  emit(output: CellOutput): void {
    if (!this.current) throw new Error('display() was called outside a running cell');
    this.current.outputs.push(output);
  }

  /** Figures take the cell's label and caption unless they carry their own. */
  decorate(item: DisplayItem): DisplayItem {
    const o = this.current?.cell.options;
    if (item.kind === 'svg' && o) {
      if (o.label && item.label === undefined) item.label = o.label;
      if (o.caption && item.caption === undefined) item.caption = o.caption;
    }
    return item;
  }
}
