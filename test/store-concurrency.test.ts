import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore, hostTag } from '../src/engine/store/artifacts.ts';

/**
 * Issue 14, item 6: shards on several hosts write one store on a shared file system, with no
 * lock. Two processes, each with a host name of its own, store the same keys and their own
 * keys at the same time: every entry ends complete and verified, nothing is quarantined, no
 * temporary directory is left, and neither host's clean-up touches the other's live writes.
 */

const WRITER = `
import { ArtifactStore } from ${JSON.stringify(new URL('../src/engine/store/artifacts.ts', import.meta.url).href)};
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
const [root, host] = process.argv.slice(-2);
const store = new ArtifactStore(root, { host, onEvent: (e) => { if (e.type === 'corrupt') { console.error('corrupt', e.id); process.exitCode = 2; } } });
const keys = [...Array.from({ length: 25 }, (_, i) => ({ kind: 'shared', inputs: { i } })), ...Array.from({ length: 10 }, (_, i) => ({ kind: host, inputs: { i } }))];
await Promise.all(keys.map(async (key, n) => {
  await new Promise((r) => setTimeout(r, (n * 7) % 13));
  await store.getOrCreate(key, async (dir) => {
    // Several files and a pause between them, so the two writers overlap inside one entry.
    await writeFile(join(dir, 'a.bin'), Buffer.alloc(64 * 1024, key.inputs.i));
    await new Promise((r) => setTimeout(r, 5));
    await writeFile(join(dir, 'value.json'), JSON.stringify({ key, writer: host }));
  });
}));
`;

function runWriter(root: string, host: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER, root, host], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('two hosts writing one store at once: every entry complete and verified, no temporary leftovers', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-shared-store-'));
  try {
    for (let round = 0; round < 2; round++) {
      const [a, b] = await Promise.all([runWriter(root, 'node-a.cluster'), runWriter(root, 'node-b.cluster')]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
    }
    const reader = new ArtifactStore(root, { onEvent: (e) => assert.notEqual(e.type, 'corrupt', 'no entry is corrupt') });
    for (let i = 0; i < 25; i++) {
      const entry = await reader.get({ kind: 'shared', inputs: { i } });
      assert.ok(entry, `shared key ${i} is stored`);
      const value = JSON.parse(await readFile(join(entry.dir, 'value.json'), 'utf8')) as { writer: string };
      assert.ok(['node-a.cluster', 'node-b.cluster'].includes(value.writer), 'one writer\'s whole entry, never a mix');
      assert.deepEqual(await readFile(join(entry.dir, 'a.bin')), Buffer.alloc(64 * 1024, i));
    }
    for (const host of ['node-a.cluster', 'node-b.cluster']) {
      for (let i = 0; i < 10; i++) assert.ok(await reader.get({ kind: host, inputs: { i } }), `${host} key ${i}`);
    }
    assert.deepEqual(await readdir(join(root, 'tmp')), [], 'no temporary directory is left behind');
    assert.ok(!existsSync(join(root, 'corrupt')), 'nothing was quarantined');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('clean-up removes only its own host\'s dead writers; another host\'s are left unless a week old', async () => {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-shared-tmp-'));
  try {
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default: never alive here
    const names = {
      mineDead: `abc.${deadPid}.${hostTag('here')}.0001`,
      mineAlive: `abc.${process.pid}.${hostTag('here')}.0002`,
      otherRecent: `abc.${deadPid}.${hostTag('there.example')}.0003`,
      otherOld: `abc.${deadPid}.${hostTag('there.example')}.0004`,
    };
    for (const n of Object.values(names)) {
      await mkdir(join(root, 'tmp', n), { recursive: true });
      await writeFile(join(root, 'tmp', n, 'part'), 'x');
    }
    const old = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    await utimes(join(root, 'tmp', names.otherOld), old, old);
    const removed = await new ArtifactStore(root, { host: 'here' }).cleanStaleTmp();
    assert.equal(removed, 2);
    assert.deepEqual((await readdir(join(root, 'tmp'))).sort(), [names.mineAlive, names.otherRecent].sort());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
