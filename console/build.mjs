// Bundles the console (Preact) into dist/console, served by the gateway at /console: nothing is fetched from a CDN.
import { build } from 'esbuild';
import { fileURLToPath } from 'url';
import path from 'path';

const here = path.dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: { app: path.join(here, 'src/main.tsx') },
  outdir: path.join(here, '../dist/console'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.css': 'css' },
  legalComments: 'none',
  logLevel: 'warning',
});
