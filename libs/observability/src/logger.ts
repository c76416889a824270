import { LoggerService } from '@nestjs/common';
import { redact } from './mask';

type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** JSON-lines logger; structured fields pass through `redact`, so a token field is never written whole. */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly service: string,
    private readonly level: Level = 'info',
  ) {}

  private write(level: Exclude<Level, 'silent'>, message: unknown, fields?: unknown) {
    if (ORDER[level] < ORDER[this.level]) return;
    const line: Record<string, unknown> = { t: new Date().toISOString(), level, service: this.service };
    if (typeof message === 'string') line.msg = message;
    else line.fields = redact(message);
    if (fields !== undefined) line.context = typeof fields === 'string' ? fields : redact(fields);
    (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(JSON.stringify(line) + '\n');
  }

  log(message: unknown, context?: unknown) { this.write('info', message, context); }
  info(message: unknown, context?: unknown) { this.write('info', message, context); }
  error(message: unknown, context?: unknown) { this.write('error', message, context); }
  warn(message: unknown, context?: unknown) { this.write('warn', message, context); }
  debug(message: unknown, context?: unknown) { this.write('debug', message, context); }
  verbose(message: unknown, context?: unknown) { this.write('debug', message, context); }
}
