import { readdirSync, readFileSync } from 'fs';
import { join, relative } from 'path';

// The domain stays pure: no framework, broker, database or node built-in, only itself and the contracts.
const ALLOWED = /^(\.{1,2}\/|@pushledger\/contracts$)/;
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('libs/domain purity', () => {
  const files = sourceFiles(__dirname);

  it('finds the domain sources', () => {
    expect(files.map((f) => relative(__dirname, f))).toEqual(expect.arrayContaining(['device.decider.ts', 'user.decider.ts', 'eligibility.ts']));
  });

  it.each(files.map((f) => [relative(__dirname, f), f]))('%s imports only relative modules and @pushledger/contracts', (_name, file) => {
    const specifiers = [...readFileSync(file, 'utf8').matchAll(SPECIFIER)].map((m) => m[1]);
    expect(specifiers.filter((s) => !ALLOWED.test(s))).toEqual([]);
  });

  it('would catch a forbidden import', () => {
    const sample = "import { Injectable } from '@nestjs/common';\nimport type { X } from './x';\nconst fs = require('node:fs');\nimport 'kafkajs';";
    const bad = [...sample.matchAll(SPECIFIER)].map((m) => m[1]).filter((s) => !ALLOWED.test(s));
    expect(bad).toEqual(['@nestjs/common', 'node:fs', 'kafkajs']);
  });
});
