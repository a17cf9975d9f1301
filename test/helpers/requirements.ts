import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/**
 * What a test needs beyond Node. On a machine with Node alone (no Chromium, no poppler, no
 * OpenBLAS to build the native kernels) `npm test` must pass: a test that needs one of
 * these is skipped, and the suite's reporter (./reporter.mjs) closes with one line saying
 * what was skipped and how to get it. CI must run everything: there REQUIRE_ALL_ENV=1
 * (.ci/run) turns each such skip into a failure naming what is missing.
 *
 *   const pdf = await needs('chromium', 'poppler');   // at the top, before any test()
 *   test('prints the PDF', pdf, async () => { ... });
 *
 * Asked before the file registers a test, so that under REPROBOOK_REQUIRE_ALL=1 the missing
 * requirement fails the file with its own message rather than in the middle of other tests.
 */

export type Requirement = 'chromium' | 'poppler' | 'openblas' | 'onednn';

export const REQUIRE_ALL_ENV = 'REPROBOOK_REQUIRE_ALL';

interface RequirementSpec {
  /** As the skip reason and the closing line name it. */
  name: string;
  /** How to get it, for the closing line and the CI failure. */
  install: string;
  /** Why it is missing here, or undefined when it is present. */
  missing(): Promise<string | undefined>;
}

const tool = (name: string): string | undefined => {
  const r = spawnSync(name, ['-v'], { stdio: 'ignore' });
  return r.error ? `${name} not found (${(r.error as NodeJS.ErrnoException).code})` : undefined;
};

export const REQUIREMENTS: Record<Requirement, RequirementSpec> = {
  chromium: {
    name: 'Chromium',
    install: 'apt-get install chromium, or set CHROME_PATH to a Chrome/Chromium binary',
    async missing() {
      const { findChrome } = await import('../../src/engine/report/pdf.ts');
      try {
        return (await findChrome()) ? undefined : 'no Chromium found';
      } catch (err) {
        return (err as Error).message;
      }
    },
  },
  poppler: {
    name: 'pdftotext',
    install: 'apt-get install poppler-utils',
    async missing() {
      return tool('pdftotext') ?? tool('pdftoppm');
    },
  },
  openblas: {
    name: 'the OpenBLAS kernels',
    install: 'apt-get install g++ make python3 libopenblas-dev, then npm run build:native',
    async missing() {
      const loaded = await loadAddon();
      return typeof loaded === 'string' ? loaded : undefined;
    },
  },
  onednn: {
    name: "oneDNN's convolutions",
    install: 'apt-get install libdnnl-dev, then npm run build:native',
    async missing() {
      const loaded = await loadAddon();
      if (typeof loaded === 'string') return loaded;
      if (process.env.REPROBOOK_NATIVE_KERNELS === 'openblas') return 'disabled by REPROBOOK_NATIVE_KERNELS=openblas';
      return typeof loaded.conv2dOneDnn === 'function' ? undefined : 'the native addon was built without oneDNN';
    },
  },
};

/**
 * The native addon's exports, or why it does not load here. Loads the addon itself rather than
 * asking native-kernels.ts: that module is part of every trained network's code fingerprint,
 * and a test's needs are no reason to retrain.
 */
async function loadAddon(): Promise<Record<string, unknown> | string> {
  const { ADDON_PATH, NATIVE_ENV } = await import('../../src/flagship/ml/backends/native-kernels.ts');
  if (process.env[NATIVE_ENV] === '0') return `disabled by ${NATIVE_ENV}=0`;
  if (!existsSync(ADDON_PATH)) return `the native addon is not built (${ADDON_PATH} is missing)`;
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as Record<string, unknown>;
  } catch (err) {
    return `the native addon does not load (${(err as Error).message})`;
  }
}

const probed = new Map<Requirement, Promise<string | undefined>>();
const missing = (r: Requirement) => {
  let p = probed.get(r);
  if (!p) probed.set(r, (p = REQUIREMENTS[r].missing()));
  return p;
};

/**
 * Test options for a test that needs `what`: `{}` when everything is here; else a skip
 * whose reason is "needs NAME (HOW); NAME (HOW)", the form ./reporter.mjs counts for its
 * closing line, or, with REPROBOOK_REQUIRE_ALL=1, an error thrown where the test file
 * registers its tests, which fails that file.
 */
export async function needs(...what: Requirement[]): Promise<{ skip?: string }> {
  const absent: Array<[Requirement, string]> = [];
  for (const r of what) {
    const why = await missing(r);
    if (why) absent.push([r, why]);
  }
  if (absent.length === 0) return {};
  if (process.env[REQUIRE_ALL_ENV] === '1') {
    throw new Error(`${REQUIRE_ALL_ENV}=1 and a test needs what this machine lacks: ${absent.map(([r, why]) => `${REQUIREMENTS[r].name} (${why}; ${REQUIREMENTS[r].install})`).join('; ')}`);
  }
  return { skip: `needs ${absent.map(([r]) => `${REQUIREMENTS[r].name} (${REQUIREMENTS[r].install})`).join('; ')}` };
}
