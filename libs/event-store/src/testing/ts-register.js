// Runs TypeScript sources directly (`node -r .../ts-register.js tools/relay/main.ts`), for tests that
// spawn real processes without a build: compiles each .ts file with @swc/core (same settings as Jest)
// and resolves `@pushledger/<lib>[/...]` to `libs/<lib>/src[/...]`.
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');
const swc = require('@swc/core');

const repoRoot = path.resolve(__dirname, '../../../..');
const swcrc = JSON.parse(fs.readFileSync(path.join(repoRoot, '.swcrc.jest.json'), 'utf8'));

const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolve(request, parent, ...rest) {
  const m = /^@pushledger\/([^/]+)(?:\/(.*))?$/.exec(request);
  if (m) request = path.join(repoRoot, 'libs', m[1], 'src', m[2] ?? '');
  return originalResolve.call(this, request, parent, ...rest);
};

require.extensions['.ts'] = function compile(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = swc.transformSync(source, { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  module._compile(code, filename);
};

if (!process.execArgv.includes('--enable-source-maps')) process.setSourceMapsEnabled?.(true);
