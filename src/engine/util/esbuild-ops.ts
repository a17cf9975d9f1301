/**
 * The two questions the engine asks esbuild's bundler (which resolves imports as Node and
 * TypeScript do, `.js` → `.ts` included): what a set of modules imports, and where a package
 * import leads. esbuild runs as a process of its own, so under `--sandbox` (src/engine/sandbox),
 * where cells may start none, this module is replaced in the sandboxed process by
 * sandbox/child/esbuild-ops.mjs, which asks the parent the same questions: keep the two
 * modules' exports the same.
 */

/** Which files a reader may see (the sandbox's read set); absent: any. */
export type Readable = (absPath: string) => boolean;

export interface ImportGraph {
  /** Each module of the graph, by esbuild's path (relative to `base`), with what it imports. */
  inputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }>;
  /** Absolute paths of local imports that do not resolve. */
  missing: string[];
}

/**
 * The import graph of `local` (absolute paths or local specifiers from `fromDir`): static
 * imports, re-exports and literal dynamic imports, packages left external. A local import
 * that does not resolve is listed in `missing`; a module that does not parse throws.
 */
export async function importGraph(local: string[], o: { base: string; fromDir: string; readable?: Readable }): Promise<ImportGraph> {
  const { build } = await import('esbuild');
  const { resolve } = await import('node:path');
  const missing: string[] = [];
  const out = await build({
    stdin: { contents: local.map((s) => `import ${JSON.stringify(s)};`).join('\n'), resolveDir: o.fromDir, loader: 'js', sourcefile: '<entries>' },
    absWorkingDir: o.base,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
    plugins: [{
      // A missing module is part of the key ('missing'), not an error: creating it changes the key.
      name: 'missing-is-a-value',
      setup(b) {
        b.onResolve({ filter: /^(\.{1,2}\/|\/|file:)/ }, async (args) => {
          if (args.pluginData === 'probe') return undefined;
          const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'probe' });
          if (r.errors.length === 0) return undefined;
          missing.push(resolve(args.resolveDir, args.path));
          return { path: args.path, external: true };
        });
        // Under --sandbox the parent answers for the cells: what they may not read, it does not either.
        const readable = o.readable;
        if (readable) b.onLoad({ filter: /.*/ }, (args) => (readable(args.path) ? undefined : { errors: [{ text: `${args.path} is outside what cells may read` }] }));
      },
    }],
  });
  return { inputs: out.metafile!.inputs, missing };
}

/** The file a package import (`spec`) from `resolveDir` leads to, as Node's ESM loader would find it; null if none. */
export async function resolveImport(spec: string, resolveDir: string, readable?: Readable): Promise<string | null> {
  const { build } = await import('esbuild');
  let resolved = null as string | null; // (`as`: set in the plugin, which narrowing does not follow)
  await build({
    stdin: { contents: `import ${JSON.stringify(spec)};`, resolveDir, loader: 'js' },
    bundle: true, write: false, platform: 'node', format: 'esm', logLevel: 'silent',
    plugins: [{
      name: 'capture',
      setup(b) {
        b.onResolve({ filter: /.*/ }, async (args) => {
          if (args.kind === 'entry-point' || args.pluginData) return undefined;
          const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: true });
          resolved = r.path;
          return { path: args.path, external: true };
        });
      },
    }],
  });
  return resolved !== null && readable && !readable(resolved) ? null : resolved;
}
