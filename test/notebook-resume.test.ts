import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject } from '../src/engine/notebook/project.ts';
import { ArtifactStore, artifactId } from '../src/engine/store/artifacts.ts';

const REPO = join(import.meta.dirname, '..');
const FIX = join(import.meta.dirname, 'fixtures', 'notebooks');
const CLI = ['--import', 'tsx', join(REPO, 'src', 'engine', 'cli', 'main.ts')];

async function slowRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-resume-'));
  await cp(join(FIX, 'slow'), root, { recursive: true });
  return root;
}

async function computations(root: string): Promise<string[]> {
  try {
    return (await readFile(join(root, 'computations.log'), 'utf8')).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function stepDir(root: string, step: number): string {
  const store = new ArtifactStore(join(root, '.reprobook', 'artifacts'));
  return store.dirFor(artifactId({ kind: 'slow-step', inputs: { step } }));
}

test('a run killed with SIGKILL resumes from the last finished artifact', async () => {
  const root = await slowRoot();
  try {
    // The second step sleeps a minute: the run is killed once the first step is stored.
    const child = spawn(process.execPath, [...CLI, 'run', '--root', root, '--param', 'delayMs=60000'], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(stepDir(root, 1), 'artifact.json'))) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`step 1 never stored; child stderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.deepEqual((await computations(root)).filter((c) => c === 'first'), ['first']);
    assert.ok(!existsSync(stepDir(root, 2)), 'no entry for the unfinished step');
    assert.ok(!existsSync(join(root, '.reprobook', 'executed', 'default', '01-slow.json')));
    const tmp = join(root, '.reprobook', 'artifacts', 'tmp');
    const leftovers = existsSync(tmp) ? await readdir(tmp) : [];

    const lines: string[] = [];
    const again = await runProject({ root, log: (l) => lines.push(l), quietArtifacts: true });
    assert.ok(again.ok, lines.join('\n'));
    assert.equal(again.results.results.answer, 42);
    const log = await computations(root);
    assert.equal(log.filter((c) => c === 'first').length, 1, `step 1 was not recomputed (log: ${log.join(', ')})`);
    assert.equal(log.at(-1), 'second');
    const events = again.outcomes[0]!.executed.artifactEvents!.map((e) => `${e.type}:${e.cellIndex}`);
    assert.deepEqual(events, ['hit:1', 'miss:2', 'stored:2']);
    // The killed writer's half-written entry (if it got that far) was cleaned up.
    for (const name of leftovers) assert.ok(!existsSync(join(tmp, name)), `stale ${name} removed`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a corrupt artifact is detected, reported and recomputed', async () => {
  const root = await slowRoot();
  try {
    const first = await runProject({ root, quietArtifacts: true });
    assert.ok(first.ok);
    await writeFile(join(stepDir(root, 1), 'value.json'), '{"value": 40}');
    const again = await runProject({ root, force: true, quietArtifacts: true });
    assert.ok(again.ok);
    assert.equal(again.results.results.answer, 42, 'the tampered value was not used');
    const corrupt = again.outcomes[0]!.executed.artifactEvents!.filter((e) => e.type === 'corrupt');
    assert.equal(corrupt.length, 1);
    assert.match(corrupt[0]!.reason!, /value\.json: sha256 .* != manifest/);
    assert.deepEqual(await computations(root), ['first', 'second', 'first'], 'step 1 recomputed, step 2 reused');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('reprobook run: exit status, status lines, error location, --ipynb', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-cli-'));
  try {
    await mkdir(join(root, 'notebooks'));
    await writeFile(join(root, 'notebooks', 'a.md'), '---\ntitle: A\nparameters: { n: 2 }\n---\n\n```ts\npublish("n", params.n);\nparams.n * 2\n```\n');
    await writeFile(join(root, 'notebooks', 'b.md'), '---\ntitle: B\n---\n\nProse.\n\n```ts\nconst x: number = 1;\nthrow new Error(`x is ${x}`);\n```\n');
    const cli = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((res) => {
      const c = spawn(process.execPath, [...CLI, 'run', '--root', root, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr.on('data', (d) => { stderr += d; });
      c.on('exit', (code) => res({ code, stderr }));
    });
    const r = await cli(['--ipynb', '--param', 'n=3']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^profile: default/m);
    assert.match(r.stderr, /^a: ran in [\d.]+s \(key [0-9a-f]{12}\)/m);
    assert.match(r.stderr, /^b: FAILED after [\d.]+s at notebooks\/b\.md:9 \(cell 1, line 2\): Error: x is 1/m);
    assert.ok(existsSync(join(root, '.reprobook', 'ipynb', 'default', 'a.ipynb')));
    const failedNb = JSON.parse(await readFile(join(root, '.reprobook', 'ipynb', 'default', 'b.ipynb'), 'utf8'));
    const errorOut = failedNb.cells.flatMap((c: { outputs?: Array<{ output_type: string; ename?: string; evalue?: string }> }) => c.outputs ?? []).find((o: { output_type: string }) => o.output_type === 'error');
    assert.deepEqual([errorOut.ename, errorOut.evalue], ['Error', 'x is 1']);
    const results = JSON.parse(await readFile(join(root, '.reprobook', 'results', 'default.json'), 'utf8'));
    assert.equal(results.results.n, 3);

    const ok = await cli(['a', '--param', 'n=3']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /^a: cached \(key /m);
    const bad = await cli(['--profile', 'nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error: unknown profile 'nope'/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('concurrent runs on one root leave a consistent store, executed file and results', async () => {
  const root = await slowRoot();
  try {
    const runs = await Promise.all([0, 1, 2].map(() => runProject({ root, force: true, quietArtifacts: true })));
    for (const r of runs) assert.ok(r.ok);
    const executed = JSON.parse(await readFile(join(root, '.reprobook', 'executed', 'default', '01-slow.json'), 'utf8'));
    assert.equal(executed.status, 'ok');
    const results = JSON.parse(await readFile(join(root, '.reprobook', 'results', 'default.json'), 'utf8'));
    assert.equal(results.results.answer, 42);
    const store = new ArtifactStore(join(root, '.reprobook', 'artifacts'));
    for (const step of [1, 2]) assert.notEqual(await store.get({ kind: 'slow-step', inputs: { step } }), null, `step ${step} verifies`);
    assert.deepEqual(await readdir(join(root, '.reprobook', 'artifacts', 'tmp')), [], 'no temporary entries left');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
