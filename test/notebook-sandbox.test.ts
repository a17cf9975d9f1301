import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject, type ProjectRunRequest } from '../src/engine/notebook/project.ts';
import { parseProjectConfig } from '../src/engine/notebook/config.ts';

/**
 * Issue 22, item 7: cells see only what the cache key covers. The environment: the variables
 * the project declares and no others. Under --sandbox (src/engine/sandbox): files outside the
 * project and its store, processes and the network are refused, each refusal naming the cell
 * and what the project would declare; what the project may do still works.
 */

const REPO = join(import.meta.dirname, '..');

/** A project (an ES module package, as reprobook's own) of notebooks given as cells, with a config. */
async function project(notebooks: Record<string, string[]>, config = ''): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'reprobook-sandbox-'));
  await mkdir(join(root, 'notebooks'));
  await writeFile(join(root, 'package.json'), '{ "type": "module" }\n');
  for (const [name, cells] of Object.entries(notebooks)) {
    await writeFile(join(root, 'notebooks', `${name}.md`), `---\ntitle: ${name}\n---\n\n${cells.map((c) => `\`\`\`ts\n${c}\n\`\`\`\n`).join('\n')}`);
  }
  await writeFile(join(root, 'reprobook.config.yaml'), config);
  return root;
}

const run = (root: string, req: Partial<ProjectRunRequest> = {}) => runProject({ root, quietArtifacts: true, ...req });

test('cells see the declared variables, which are in the cache key, and no others: an undeclared one is undefined and changing it never re-runs', async () => {
  const root = await project({
    env: ['publish("declared", process.env.REPROBOOK_T_DECLARED ?? null);\npublish("undeclared", process.env.REPROBOOK_T_UNDECLARED ?? null);\npublish("names", Object.keys(process.env));'],
  }, 'environment:\n  - REPROBOOK_T_DECLARED\n  - REPROBOOK_T_UNSET\n');
  const env = (declared: string, undeclared: string) => ({ PATH: process.env.PATH, HOME: '/home/someone', REPROBOOK_T_DECLARED: declared, REPROBOOK_T_UNDECLARED: undeclared });
  try {
    const first = await run(root, { env: env('a', 'x') });
    assert.ok(first.ok, first.outcomes[0]?.error?.message);
    assert.equal(first.results.results.declared, 'a');
    assert.equal(first.results.results.undeclared, null, 'an undeclared variable is undefined in a cell');
    assert.deepEqual(first.results.results.names, ['REPROBOOK_T_DECLARED'], 'not PATH, not HOME: only what the project declares and is set');
    assert.deepEqual(first.outcomes[0]!.executed.cacheKeyInputs.environment, { REPROBOOK_T_DECLARED: 'a', REPROBOOK_T_UNSET: null }, 'exactly the declared ones are in the key');

    const undeclaredChanged = await run(root, { env: env('a', 'y') });
    assert.equal(undeclaredChanged.outcomes[0]!.status, 'cached', 'what a cell cannot see cannot change its results');
    const declaredChanged = await run(root, { env: env('b', 'y') });
    assert.equal(declaredChanged.outcomes[0]!.status, 'ran');
    assert.equal(declaredChanged.results.results.declared, 'b');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * Issue 23, item 5: the plugin declares the variables its code reads (`environmentVariables`),
 * rather than a hand list in the config; the config's `environment:` still works beside it
 * (and alone, above, for a project without a plugin).
 */
test('the variables a plugin declares are in the cache key and seen by cells, with the config\'s; a bad declaration names the plugin', async () => {
  const root = await project({
    env: ['publish("seen", Object.keys(process.env).sort());'],
  }, 'environment:\n  - REPROBOOK_T_CONFIG\nplugin: plugin.ts\n');
  await writeFile(join(root, 'plugin.ts'), "export const environmentVariables = ['REPROBOOK_T_PLUGIN', 'REPROBOOK_T_CONFIG'];\n");
  const env = (plugin: string) => ({ PATH: process.env.PATH, REPROBOOK_T_CONFIG: 'c', REPROBOOK_T_PLUGIN: plugin, REPROBOOK_T_OTHER: 'o' });
  try {
    const first = await run(root, { env: env('p') });
    assert.ok(first.ok, first.outcomes[0]?.error?.message);
    assert.deepEqual(first.results.results.seen, ['REPROBOOK_T_CONFIG', 'REPROBOOK_T_PLUGIN']);
    assert.deepEqual(first.outcomes[0]!.executed.cacheKeyInputs.environment, { REPROBOOK_T_CONFIG: 'c', REPROBOOK_T_PLUGIN: 'p' });
    assert.equal((await run(root, { env: env('p') })).outcomes[0]!.status, 'cached');
    assert.equal((await run(root, { env: env('q') })).outcomes[0]!.status, 'ran', 'a change to a variable the plugin declares re-runs');

    await writeFile(join(root, 'plugin2.ts'), "export const environmentVariables = ['NOT-A-NAME'];\n");
    await writeFile(join(root, 'reprobook.config.yaml'), 'plugin: plugin2.ts\n');
    await assert.rejects(run(root), /the project plugin plugin2\.ts exports environmentVariables that is not a list of variable names/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/** A folder outside the project, with a file in it. */
async function outside(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'reprobook-outside-'));
  await writeFile(join(dir, 'secret.txt'), 'secret');
  return dir;
}

test('under --sandbox a cell that writes or reads outside the project, starts a process or opens a socket is denied, naming the cell and what to declare; the project, its modules and its store still work', async () => {
  const away = await outside();
  const root = await project({
    allowed: [
      // A TypeScript module of the project (compiled by the parent's esbuild), its files, the
      // artifact store, the code fingerprint (esbuild's import graph, asked of the parent).
      'import { twice } from "../src/lib.ts";\nconst fs = await import("node:fs");\nconst own = fs.readFileSync(new URL("../src/lib.ts", import.meta.url), "utf8");\nconst v = await artifacts.memoJson({ kind: "t", inputs: { n: 21 } }, async () => twice(21));\npublish("allowed", [v, own.length > 0, (await sources("../src/lib.ts")).length]);',
    ],
    write: ['const fs = await import("node:fs");', `fs.writeFileSync(${JSON.stringify(join(away, 'written.txt'))}, "x");`],
    read: ['const fs = await import("node:fs");', `fs.readFileSync(${JSON.stringify(join(away, 'secret.txt'))}, "utf8");`],
    spawn: ['const cp = await import("node:child_process");', 'cp.execSync("echo hi");'],
    socket: ['const net = await import("node:net");', 'await new Promise((res, rej) => net.connect(80, "127.0.0.1").on("connect", res).on("error", rej));'],
  });
  await mkdir(join(root, 'src'));
  await writeFile(join(root, 'src', 'lib.ts'), 'export function twice(n: number): number { return n * 2; }\n');
  const lines: string[] = [];
  try {
    const r = await run(root, { sandbox: {}, log: (l) => lines.push(l) });
    const outcome = (name: string) => r.outcomes.find((o) => o.name === name)!;
    assert.equal(outcome('allowed').status, 'ran', outcome('allowed').error?.message);
    assert.deepEqual(r.results.results.allowed, [42, true, 64]);

    const denied = (name: string, what: RegExp) => {
      const o = outcome(name);
      assert.equal(o.status, 'failed', `${name} is denied`);
      assert.equal(o.error!.name, 'SandboxDenied', `${name}: ${o.error!.message}`);
      assert.equal(o.error!.cellIndex, 1);
      assert.match(o.error!.message, new RegExp(`^notebooks/${name}\\.md cell 2 was denied `), 'the message names the notebook and the cell');
      assert.match(o.error!.message, what);
      assert.ok(lines.some((l) => l.includes(`notebooks/${name}.md:`) && l.includes('SandboxDenied')), `the run's log names ${name}'s line`);
    };
    denied('write', new RegExp(`writing ${join(away, 'written.txt')} by --sandbox; a project that needs it declares it in reprobook.config.yaml: sandbox: \\{ write: \\[`));
    denied('read', new RegExp(`reading ${join(away, 'secret.txt')} by --sandbox; .* sandbox: \\{ read: \\[`));
    denied('spawn', /starting a process, which --sandbox never allows/);
    denied('socket', /a network connection \(127\.0\.0\.1:80\), which --sandbox never allows/);
    assert.equal(existsSync(join(away, 'written.txt')), false, 'nothing was written outside');
    assert.ok(lines.some((l) => /^sandbox: cells may read .*; write .*\.reprobook\/artifacts; no native addons; no processes, no network$/.test(l)), 'the grants are said before anything runs');
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(away, { recursive: true, force: true });
  }
});

test('under --sandbox the guard closes what Node 20 leaves open: workers with their own Node options or from a string, module hooks, DNS, UDP, fetch, signals to other processes; esbuild compiles but does not bundle', async () => {
  const away = await outside();
  const target = join(away, 'from-worker.txt');
  const probes: Record<string, string> = {
    // A worker with execArgv: [] runs outside Node 20's permission model: the guard gives it the process's own options.
    execArgv: `await new Promise((res, rej) => new Worker(new URL("data:text/javascript,import('node:fs').then((fs) => fs.writeFileSync(${JSON.stringify(JSON.stringify(target)).slice(1, -1)}, 'x'))"), { execArgv: [] }).on("error", rej).on("exit", res))`,
    evalWorker: 'new Worker("1", { eval: true })',
    register: '(await import("node:module")).register("data:text/javascript,export {}")',
    dns: '(await import("node:dns/promises")).lookup("localhost")',
    udp: '(await import("node:dgram")).createSocket("udp4").send("x", 53, "127.0.0.1")',
    fetch: 'fetch("http://127.0.0.1:8080/")',
    server: 'new Promise((res, rej) => (http.createServer().listen(0, res) as any).on("error", rej))',
    kill: 'process.kill(process.ppid, 0)',
    report: 'process.report.directory = "/"',
    forge: '(await import("node:fs")).writeFileSync(new URL("../.reprobook/results/default.json", import.meta.url), "{}")',
    esbuildBuild: '(await import("esbuild")).build({ stdin: { contents: "1" }, write: false })',
  };
  const cell = [
    'const { Worker } = await import("node:worker_threads");',
    'const http = await import("node:http");',
    'const { findDenial } = await import(' + JSON.stringify(join(REPO, 'src/engine/sandbox/denial.ts')) + ');',
    'const seen: Record<string, string> = {};',
    ...Object.entries(probes).map(([k, code]) => `try { await (async () => ${code})(); seen.${k} = "allowed"; } catch (e) { seen.${k} = findDenial(e)?.permission ?? String(e); }`),
    'const esbuild = await import("esbuild");',
    'publish("compiled", [esbuild.transformSync("const x: number = 1", { loader: "ts" }).code, (await esbuild.transform("let y: string", { loader: "ts" })).code]);',
    'publish("seen", seen);',
  ].join('\n');
  const root = await project({ probe: [cell] });
  try {
    const r = await run(root, { sandbox: {} });
    assert.ok(r.ok, r.outcomes[0]!.error?.message);
    assert.deepEqual(r.results.results.seen, {
      execArgv: 'FileSystemWrite', // it ran, inside the sandbox: its write outside was refused
      evalWorker: 'WorkerThreads', register: 'ModuleHooks', dns: 'Network', udp: 'Network', fetch: 'Network', server: 'Network', kill: 'Signal',
      report: 'FileSystemWrite',
      forge: 'FileSystemWrite', // the store's runs and results are the parent's to write
      esbuildBuild: 'ChildProcess',
    });
    assert.equal(existsSync(target), false, 'the worker given execArgv: [] could not write outside');
    assert.deepEqual(r.results.results.compiled, ['const x = 1;\n', 'let y;\n']);
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(away, { recursive: true, force: true });
  }
});

test('under --sandbox what the config declares is granted: more folders to read and write, native addons (and a key of their own when they are not)', async () => {
  const away = await outside();
  const cells = [
    `const fs = await import("node:fs");\nfs.writeFileSync(${JSON.stringify(join(away, 'out.txt'))}, fs.readFileSync(${JSON.stringify(join(away, 'secret.txt'))}, "utf8") + "!");`,
    // Not a real addon: what matters is whether loading one is refused before the file is looked at.
    'let addon: string;\ntry { process.dlopen({ exports: {} } as any, "/nonexistent/addon.node"); addon = "loaded"; } catch (e: any) { addon = e.code ?? e.message; }\npublish("addon", addon);',
  ];
  const root = await project({ granted: cells }, `sandbox:\n  read: [${away}]\n  write: [${away}]\n  addons: true\n`);
  const bare = await project({ granted: cells.slice(1) });
  try {
    const r = await run(root, { sandbox: {} });
    assert.ok(r.ok, r.outcomes[0]!.error?.message);
    assert.equal(await readFile(join(away, 'out.txt'), 'utf8'), 'secret!');
    assert.notEqual(r.results.results.addon, 'ERR_DLOPEN_DISABLED', 'an addon may load when declared');
    assert.equal(r.outcomes[0]!.executed.cacheKeyInputs.addons, undefined, 'with addons, the key is a run without the sandbox\'s');

    const refused = await run(bare, { sandbox: {} });
    assert.equal(refused.results.results.addon, 'ERR_DLOPEN_DISABLED');
    assert.equal(refused.outcomes[0]!.executed.cacheKeyInputs.addons, false, 'code that falls back without its addon computes under a key of its own');
    assert.equal((await run(bare)).outcomes[0]!.status, 'ran', 'so a run without the sandbox does not reuse it');
  } finally {
    for (const d of [root, bare, away]) await rm(d, { recursive: true, force: true });
  }
});

test('under --sandbox a symbolic link in the project to outside stops the run before any cell runs (Node follows links past its grants), naming the link and the fix', async () => {
  const away = await outside();
  const root = await project({ a: ['publish("ran", true);'] });
  await symlink(away, join(root, 'data'));
  try {
    await assert.rejects(run(root, { sandbox: {} }), (e: Error & { hint?: string }) => {
      assert.match(e.message, new RegExp(`--sandbox: data is a symbolic link to ${away}, outside what cells may read`));
      assert.match(e.hint!, /sandbox: \{ read: \[/);
      return true;
    });
    assert.equal(existsSync(join(root, '.reprobook', 'results')), false, 'nothing ran');
    await writeFile(join(root, 'reprobook.config.yaml'), `sandbox:\n  read: [${away}]\n`);
    assert.ok((await run(root, { sandbox: {} })).ok, 'declared, the link is fine');
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(away, { recursive: true, force: true });
  }
});

test('the config\'s sandbox: declaration is checked, naming the line', () => {
  assert.deepEqual(parseProjectConfig('sandbox:\n  read: [../data]\n  addons: true\n').sandbox, { read: ['../data'], write: [], addons: true });
  assert.throws(() => parseProjectConfig('parameters: {}\nsandbox:\n  network: true\n'), /reprobook\.config\.yaml:3: unknown sandbox key 'network'/);
  assert.throws(() => parseProjectConfig('sandbox:\n  read: data\n'), /:2: sandbox read must be a list of paths/);
  assert.throws(() => parseProjectConfig('sandbox:\n  write: ["a,b"]\n'), /contains a comma/);
  assert.throws(() => parseProjectConfig('sandbox:\n  addons: yes please\n'), /sandbox addons must be true or false/);
});

test('reprobook run, build and verify take --sandbox: a denied cell fails the command, naming its line; verify recomputes under it', async () => {
  const root = await project({
    '01-area': ['const a = await artifacts.memoJson({ kind: "area", inputs: { w: 3, h: 4 } }, async () => 3 * 4);\npublish("area", a);'],
  });
  await mkdir(join(root, 'report'));
  await writeFile(join(root, 'report', 'claims.yaml'), 'claims:\n  - { id: area, claim: "the area is twelve", source: "§1", paper: "12", kind: approx, value: 12, tolerance: { reproduced: 0.5, partly: 2 }, results: [area] }\n');
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/engine/cli/main.ts'), ...args, '--root', root], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  try {
    const ran = cli('run', '--sandbox');
    assert.equal(ran.status, 0, ran.stderr);
    const verified = cli('verify', 'area', '--sandbox');
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /^HOLDS: claim area/m);
    assert.match(verified.stderr, /^sandbox: cells may read /m);

    await writeFile(join(root, 'notebooks', '02-spawn.md'), '---\ntitle: s\n---\n\n```ts\nconst cp = await import("node:child_process");\ncp.execSync("true");\n```\n');
    const built = cli('build', '--sandbox', '--no-pdf', '--out', join(root, '_site'));
    assert.equal(built.status, 1);
    assert.match(built.stderr, /notebooks\/02-spawn\.md:7 \(cell 1, line 2\): SandboxDenied: notebooks\/02-spawn\.md cell 1 was denied starting a process/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
