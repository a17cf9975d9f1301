import type { Command } from 'commander';
import { parsePort, repeatable, SANDBOX_FLAG, SANDBOX_HELP } from '../options.ts';

/**
 * `reprobook preview`: a local server with the site, rebuilt and reloaded in the browser on
 * every change to an input; localhost only unless --host says otherwise. Each build takes the
 * project lock, as `build` does, so the two never run one notebook at once. Ctrl-C stops it
 * cleanly at any time, the first build included.
 */
export function register(program: Command): void {
  program
    .command('preview')
    .description('serve the report on localhost, rebuild what changed on every edit and reload the open page')
    .option('--root <dir>', 'project root', '.')
    .option('--profile <name>', 'parameter profile to run and show')
    .option('--param <key=value>', 'override one notebook parameter (repeatable)', repeatable, [] as string[])
    .option('--port <n>', 'port to listen on (0: any free port)', '3000')
    .option('--host <address>', 'address to bind (default: this machine only)', '127.0.0.1')
    .option(SANDBOX_FLAG, SANDBOX_HELP)
    .action(async (opts: { root: string; profile?: string; param: string[]; port: string; host: string; sandbox?: boolean }) => {
      const { resolve } = await import('node:path');
      const { parseOverrides } = await import('../../notebook/params.ts');
      const { commandProfile } = await import('../../notebook/config.ts');
      const { keyedFiles } = await import('../../notebook/cache.ts');
      const { acquireProjectLock } = await import('../../util/project-lock.ts');
      const { runAndRender } = await import('./build.ts');
      const { formatWarning } = await import('../../report/warnings.ts');
      const { startPreview } = await import('../../preview/session.ts');
      const port = parsePort(opts.port);
      const root = resolve(opts.root);
      const params = parseOverrides(opts.param);
      const profile = await commandProfile(root, opts.profile);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      // Ctrl-C belongs to the preview, not to the run inside it: it stops everything.
      const stop = new AbortController();
      const onSignal = () => {
        if (stop.signal.aborted) process.exit(130);
        log('preview: stopping');
        stop.abort('Ctrl-C');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const session = await startPreview({
        root, host: opts.host, port, log, stop: stop.signal,
        build: async (out, signal) => {
          const release = await acquireProjectLock(root, {
            command: 'preview', signal,
            onWait: (h, path) => log(`preview: waiting for another build of this project (pid ${h.pid} on ${h.host}, since ${h.startedAt}); if none is running, delete ${path}`),
          });
          try {
            const { site, runError, executed } = await runAndRender({ root, out, profile, params, run: true, linkPdf: false, history: false, ...(opts.sandbox ? { sandbox: true } : {}), log, signal });
            return { warnings: site.warnings.map(formatWarning), inputs: [...site.inputs, ...executed.flatMap(keyedFiles)], ...(runError ? { runError } : {}) };
          } finally {
            await release();
          }
        },
      });
      if (!stop.signal.aborted) process.stdout.write(`preview: ${session.url} (Ctrl-C to stop)\n`);
      await session.closed;
      process.exit(0);
    });
}
