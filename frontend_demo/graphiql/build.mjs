// Builds GraphiQL into graphql_repl/static/graphiql/ (or the directory given with
// --outdir), deterministically: the same lockfile gives the same bytes. Fonts and images
// are inlined, so the page loads nothing from another origin.
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    outdir: { type: 'string', default: join(here, '../../graphql_repl/static/graphiql') },
  },
});
const outdir = resolve(values.outdir);

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

await esbuild.build({
  absWorkingDir: here,
  entryPoints: { graphiql: 'src/main.jsx' },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  jsx: 'automatic',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  charset: 'utf8',
  legalComments: 'linked',
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.png': 'dataurl', '.svg': 'dataurl', '.ttf': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl' },
  logLevel: 'warning',
});
await copyFile(join(here, 'src/index.html'), join(outdir, 'index.html'));

for (const name of (await readdir(outdir)).sort()) {
  const { size } = await stat(join(outdir, name));
  console.log(`${name.padEnd(24)} ${(size / 1024).toFixed(0).padStart(6)} KiB`);
}
