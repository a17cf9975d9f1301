import type { Command } from 'commander';

/** `reprobook bundle`: the built report, its data and provenance, and the notebooks as .ipynb, in one zip. */
export function register(program: Command): void {
  program
    .command('bundle')
    .description('zip the built site, report.pdf, results.json, provenance and the notebooks as .ipynb, for a reviewer to open offline')
    .option('--root <dir>', 'project root', '.')
    .option('--site <dir>', 'the built site (default: <root>/_site)')
    .option('--out <file>', 'the zip to write (default: <root>/report-bundle.zip)')
    .action(async (opts: { root: string; site?: string; out?: string }) => {
      const { resolve, join, relative } = await import('node:path');
      const { writeFile } = await import('node:fs/promises');
      const { buildBundle, checkBundleOut } = await import('../../report/bundle.ts');
      const root = resolve(opts.root);
      const siteDir = opts.site ? resolve(opts.site) : join(root, '_site');
      const out = opts.out ? resolve(opts.out) : join(root, 'report-bundle.zip');
      await checkBundleOut(root, out, opts.out ?? out);
      const { zip, files } = await buildBundle(root, siteDir);
      await writeFile(out, zip);
      process.stdout.write(`bundle: ${relative(process.cwd(), out) || out} (${files.length} files, ${Math.round(zip.length / 1024)} KiB)\n`);
    });
}
