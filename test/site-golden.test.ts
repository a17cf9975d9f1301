import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProject } from '../src/engine/notebook/project.ts';
import { freezeProfile } from '../src/engine/freeze/freeze.ts';
import { buildSite } from '../src/engine/report/site.ts';
import { formatWarning } from '../src/engine/report/warnings.ts';

/**
 * Golden site tests (issue 23, item 2; Observable Framework's input folder -> output
 * snapshot): each case under test/fixtures/site-golden/<case>/ is a small project of its own;
 * its notebooks run, the site is built, and every HTML page and the warnings must equal
 * <case>/expected/ once what differs from run to run (times, durations, Node's version, the
 * machine, the installed packages' versions) is normalised. `UPDATE_GOLDEN=1 npm test` rewrites the expected files: read the diff.
 */

const CASES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'site-golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** What legitimately differs between two runs of the same case. */
export function normalise(html: string): string {
  return html
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, '<TIME>')
    .replace(/\b\d+(?:\.\d+)? (?:ms|s)\b|\b\d+ min \d+ s\b|\b\d+ h \d+ min\b/g, '<DURATION>')
    .replace(/\bv\d+\.\d+\.\d+\b/g, '<NODE>')
    .replace(/\b\d+ CPU cores?\b/g, '<CPUS>')
    .replace(/\b(?:linux|darwin|win32)-(?:x64|arm64)\b/g, '<PLATFORM>')
    // The engine's installed dependencies and their versions are this machine's install.
    .replace(/<p class="packages">[^\n]*?<\/p>/g, '<p class="packages"><PACKAGES></p>');
}

async function files(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p, base)));
    else if (e.name.endsWith('.html')) out.push(p.slice(base.length + 1));
  }
  return out.sort();
}

async function buildCase(name: string): Promise<{ out: string; warnings: string[]; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), `reprobook-golden-${name}-`));
  await cp(join(CASES_DIR, name), root, { recursive: true, filter: (src) => !src.includes(`${join(CASES_DIR, name, 'expected')}`) });
  const log = () => {};
  // The cross-profile case cites a frozen run of `long`, as a fresh clone would: run, freeze, forget.
  if (name === 'cross-profile') {
    await runProject({ root, profile: 'long', log, quietArtifacts: true });
    await freezeProfile(root, 'long');
    await rm(join(root, '.reprobook'), { recursive: true, force: true });
  }
  const { profile } = await runProject({ root, log, quietArtifacts: true });
  const out = join(root, '_site');
  const site = await buildSite({ root, profile, out, builtAt: '2026-01-01T00:00:00.000Z' });
  return { out, warnings: site.warnings.map(formatWarning), cleanup: () => rm(root, { recursive: true, force: true }) };
}

const cases = (await readdir(CASES_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();

test('there are at least five golden cases', () => {
  assert.ok(cases.length >= 5, `cases: ${cases.join(', ')}`);
});

for (const name of cases) {
  test(`golden site: ${name}`, async () => {
    const { out, warnings, cleanup } = await buildCase(name);
    try {
      const expectedDir = join(CASES_DIR, name, 'expected');
      const got = new Map<string, string>();
      for (const f of await files(out)) got.set(f, normalise(await readFile(join(out, f), 'utf8')));
      got.set('warnings.txt', `${normalise(warnings.join('\n'))}\n`);
      if (UPDATE) {
        await rm(expectedDir, { recursive: true, force: true });
        for (const [f, content] of got) {
          await mkdir(dirname(join(expectedDir, f)), { recursive: true });
          await writeFile(join(expectedDir, f), content);
        }
        return;
      }
      assert.ok(existsSync(expectedDir), `no expected output for ${name}: run UPDATE_GOLDEN=1 npm test and read what it wrote`);
      const expected = [...(await files(expectedDir)), 'warnings.txt'];
      assert.deepEqual([...got.keys()].sort(), expected.sort(), 'the same pages');
      for (const f of expected) assert.equal(got.get(f), await readFile(join(expectedDir, f), 'utf8'), `${name}/${f} differs from the golden file (UPDATE_GOLDEN=1 rewrites it)`);
    } finally {
      await cleanup();
    }
  });
}
