import type { Command } from 'commander';
import { repeatable, SANDBOX_FLAG, SANDBOX_HELP } from '../options.ts';

/**
 * `reprobook preview`: a local server with the site, rebuilt and reloaded in the browser on
 * every change; localhost only unless --host says otherwise. Ctrl-C stops it cleanly.
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
      const { UserError } = await import('../../util/errors.ts');
      const { parseOverrides } = await import('../../notebook/params.ts');
      const { commandProfile } = await import('../../notebook/config.ts');
      const { runAndRender } = await import('./build.ts');
      const { startPreview } = await import('../../preview/session.ts');
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port ${opts.port} is not a port number`, 'use a number from 1 to 65535, e.g. --port 3000 (0 picks a free one)');
      const root = resolve(opts.root);
      const params = parseOverrides(opts.param);
      const profile = await commandProfile(root, opts.profile);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const session = await startPreview({
        root, host: opts.host, port, log,
        build: async (out) => {
          const { site, runError } = await runAndRender({ root, out, profile, params, run: true, linkPdf: false, history: false, ...(opts.sandbox ? { sandbox: true } : {}), log });
          return { warnings: site.warnings, ...(runError ? { runError } : {}) };
        },
      });
      process.stdout.write(`preview: ${session.url} (Ctrl-C to stop)\n`);
      let closing = false;
      const stop = () => {
        if (closing) process.exit(130);
        closing = true;
        log('preview: stopping');
        session.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
