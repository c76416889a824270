import * as os from 'node:os';
import { round } from './stats';

/** What a result depends on besides the code: recorded with every bench result. */
export function machineInfo(): Record<string, unknown> {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}
