import * as fs from 'node:fs';
import * as path from 'node:path';
import { machineInfo } from './machine';

/** bench/results, or BENCH_RESULTS_DIR (a trial run that must not replace the committed results). */
export function resultsDir(): string {
  return path.resolve(process.env.BENCH_RESULTS_DIR ?? path.join(__dirname, '../results'));
}

/** Writes <results dir>/<name>.json (generatedAt and machine first); returns the path. */
export function writeResults(name: string, results: Record<string, unknown>): string {
  const file = path.join(resultsDir(), `${name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const output = { generatedAt: new Date().toISOString(), machine: machineInfo(), ...results };
  fs.writeFileSync(file, JSON.stringify(output, null, 2) + '\n');
  return file;
}

/** A results file written earlier, or null. */
export function readResults(name: string): Record<string, any> | null {
  const file = path.join(resultsDir(), `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
}
