import { execFileSync } from 'child_process';
import { join } from 'path';

const ROOT = join(__dirname, '../../..');
const RULE = '@typescript-eslint/no-restricted-imports';

/**
 * Runs ESLint (the repository's eslint.config.mjs) in a child process: its config is an ES module, which
 * Jest's module system cannot load. Type information is switched off so text that is not on disk can be
 * linted; the boundary rule needs none. Answers the lines the boundary rule flags, per file.
 */
function boundaryErrors(input: { texts?: { filePath: string; code: string }[]; files?: string[] }): Record<string, number[]> {
  const script = `
    const { ESLint } = require('eslint');
    const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    const eslint = new ESLint({
      cwd: process.cwd(),
      overrideConfig: {
        files: ['**/*.ts'],
        languageOptions: { parserOptions: { project: false, projectService: false } },
        rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/switch-exhaustiveness-check': 'off' },
      },
    });
    (async () => {
      const results = [];
      for (const t of input.texts ?? []) results.push(...(await eslint.lintText(t.code, { filePath: t.filePath })));
      if (input.files?.length) results.push(...(await eslint.lintFiles(input.files)));
      const out = {};
      for (const r of results) out[require('path').relative(process.cwd(), r.filePath)] = r.messages.filter((m) => m.ruleId === ${JSON.stringify(RULE)} || m.fatal).map((m) => (m.fatal ? -1 : m.line));
      process.stdout.write(JSON.stringify(out));
    })().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }));
}

const FIXTURE = [
  "import { StreamExecutor } from '@pushledger/lifecycle';",
  "import type { DeviceState } from '@pushledger/domain';",
  "import { deviceDecider } from '@pushledger/domain';",
  "import { PostgresEventStore } from '@pushledger/event-store';",
  "import { createPrivateEventStore } from '@pushledger/privacy';",
  "import { Relay } from '../../../../libs/event-store/src/relay';",
  "import { deviceStream } from '@pushledger/contracts';",
  'export const used = [StreamExecutor, deviceDecider, PostgresEventStore, createPrivateEventStore, Relay, deviceStream] as unknown as DeviceState[];',
  '',
].join('\n');

describe('the gateway boundary (eslint.config.mjs)', () => {
  it('flags event-store, lifecycle, privacy and domain values in the gateway, not a domain type or the contracts', () => {
    const gateway = 'services/gateway/src/edge/boundary-fixture.ts';
    const registration = 'services/registration/src/edge/boundary-fixture.ts';
    const errors = boundaryErrors({ texts: [gateway, registration].map((filePath) => ({ filePath, code: FIXTURE })) });
    expect(errors[gateway]).toEqual([1, 3, 4, 5, 6]);
    // The rule is the gateway's alone: the owners load streams and run deciders.
    expect(errors[registration]).toEqual([]);
  }, 60_000);

  it('holds for the gateway as it is', () => {
    const errors = boundaryErrors({ files: ['services/gateway/src'] });
    expect(Object.keys(errors).length).toBeGreaterThan(30);
    expect(Object.entries(errors).filter(([, lines]) => lines.length)).toEqual([]);
  }, 60_000);
});
