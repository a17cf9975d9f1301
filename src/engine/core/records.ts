/**
 * The records reprobook reads and writes: a notebook as parsed from disk, what a run of it
 * produces (the executed notebook, stored as JSON), where the run happened, and the results
 * file. They sit below the store, which keeps them, and the notebook layer, which makes them,
 * so that neither imports the other for its types. Keep them JSON-serialisable.
 */

export type ParamValue = string | number | boolean | number[] | string[];
export type Params = Record<string, ParamValue>;

/** Quarto-style `//| key: value` options at the top of a code cell. */
export interface CellOptions {
  label?: string;
  caption?: string;
  /** Show the code in the rendered page (default true). */
  echo?: boolean;
  /** Show the outputs in the rendered page (default true). */
  output?: boolean;
  /** Cache participation (default true); false forces this notebook to re-run. */
  cache?: boolean;
  /** This cell's time limit as written (`90`, `10m`, `2h`, `none`): see timeouts.ts. Not in the cache key. */
  timeout?: string;
  /**
   * Modules the cell loads under a computed name (`import(name)`, `require(name)`), which no
   * parser can see: declared here, they enter the cache key like its literal imports (cache.ts).
   */
  depends?: string[];
}

/** `timeout:` in front matter or reprobook.config.yaml, as written (`10m`, `none`): see timeouts.ts. */
export interface TimeoutSettings {
  /** Each cell's limit. */
  cell?: string;
  /** The whole notebook's limit. */
  notebook?: string;
}

export interface ProseBlock {
  kind: 'prose';
  markdown: string;
  /** 1-based line in the notebook file where the block starts. */
  line: number;
}

export interface CodeCell {
  kind: 'code';
  /** 0-based index among the notebook's executable cells; "cell N" in messages is index + 1. */
  index: number;
  lang: 'ts';
  /** The cell's code without its `//|` option lines. */
  source: string;
  options: CellOptions;
  /** 1-based line in the notebook file of the first line of `source`. */
  line: number;
}

/** A fenced block in another language: shown, never run. */
export interface ShownCode {
  kind: 'shown';
  lang: string;
  source: string;
  line: number;
}

export type NotebookBlock = ProseBlock | CodeCell | ShownCode;

export interface NotebookFrontMatter {
  title: string;
  summary?: string;
  /** Declared parameters and their defaults. */
  parameters: Params;
  /** Named parameter sets local to this notebook (project profiles live in reprobook.config.yaml). */
  profiles?: Record<string, Params>;
  /** Time limits (not in the cache key). */
  timeout?: TimeoutSettings;
}

export interface NotebookDocument {
  /** Path relative to the project root, e.g. `notebooks/02-train.md`. */
  path: string;
  /** File name without extension, e.g. `02-train`: the notebook's id in URLs and results. */
  name: string;
  frontMatter: NotebookFrontMatter;
  blocks: NotebookBlock[];
}

/** Rich display, chosen by the runtime from the value's type. */
export type DisplayItem =
  | { kind: 'text'; text: string }
  | { kind: 'markdown'; markdown: string }
  | { kind: 'table'; columns: string[]; rows: Array<Record<string, unknown>>; caption?: string }
  /** An SVG figure (Observable Plot rendered through jsdom). Sanitise before embedding. */
  | { kind: 'svg'; svg: string; caption?: string; label?: string }
  | { kind: 'image'; mime: 'image/png'; base64: string; width: number; height: number; alt?: string }
  | { kind: 'json'; value: unknown };

export type CellOutput =
  | { type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  /** An explicit `display(x)` call. */
  | { type: 'display'; item: DisplayItem }
  /** The value of the cell's trailing expression. */
  | { type: 'result'; item: DisplayItem };

export interface CellError {
  name: string;
  message: string;
  /** Stack with positions mapped back to the notebook file. */
  stack?: string;
  /** 0-based code cell index. */
  cellIndex: number;
  /** 1-based line inside the cell's source, when known. */
  cellLine?: number;
  /** 1-based line in the notebook file, when known. */
  fileLine?: number;
}

export interface CellResult {
  index: number;
  outputs: CellOutput[];
  error?: CellError;
  durationMs: number;
}

/** One `publish(name, value)` call. */
export interface PublishedResult {
  name: string;
  value: unknown;
  notebook: string;
  cellIndex: number;
  cellLabel?: string;
  /**
   * The artifact ids the value was computed from (its chain of keys), when the cell said so:
   * `publish(name, value, { artifacts })`. `reprobook verify` then recomputes just these;
   * without it, the whole publishing notebook.
   */
  artifacts?: string[];
  /** For a rate: k successes of n trials (`publish(name, value, { count })`), for its binomial interval. */
  count?: { k: number; n: number };
}

export interface RunEnvironment {
  node: string;
  platform: string;
  cpus: number;
  /** tfjs backend in use when the notebook ran, if the notebook loaded one. */
  backend?: string;
  packages: Record<string, string>;
  git?: { commit: string; dirty: boolean };
}

export interface ExecutedNotebook {
  format: 'reprobook.executed/1';
  notebook: NotebookDocument;
  profile: string | null;
  params: Params;
  /** The cache key and what went into it, so that a reader can see why it (re)ran. */
  cacheKey: string;
  cacheKeyInputs: Record<string, unknown>;
  status: 'ok' | 'error';
  cells: CellResult[];
  results: PublishedResult[];
  startedAt: string;
  wallTimeMs: number;
  environment: RunEnvironment;
  /** Artifact store events during the run (reused, stored, corrupt and recomputed), by cell. */
  artifactEvents?: Array<{ type: 'hit' | 'miss' | 'stored' | 'removed' | 'corrupt'; id: string; kind: string; reason?: string; cellIndex: number }>;
}

/** Where a result was published, and (when the cell said) the artifact ids it rests on. */
export interface ResultSource {
  notebook: string;
  cellIndex: number;
  cellLabel?: string;
  artifacts?: string[];
}

/** `results.json`: an interface read by scripts outside the project; keep names stable. */
export interface ResultsFile {
  profile: string | null;
  provenance: {
    generatedAt: string;
    environment: RunEnvironment;
    notebooks: Array<{ name: string; path: string; cacheKey: string; wallTimeMs: number; params: Params; startedAt: string }>;
    data?: Record<string, string>;
  };
  /** Result name to value; rates are fractions in [0, 1]. */
  results: Record<string, unknown>;
  /** Result name to where it was published. */
  sources: Record<string, ResultSource>;
  /** Result name to the count behind a rate (k successes of n trials), where the notebook published one. */
  counts?: Record<string, { k: number; n: number }>;
}
