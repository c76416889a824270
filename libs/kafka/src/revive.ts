import type { Consumer } from 'kafkajs';
import type { LoggerService } from '@nestjs/common';

const REVIVE_INITIAL_MS = 1000;
const REVIVE_MAX_MS = 15_000;

/**
 * kafkajs restarts a crashed consumer only when it judges the error retriable; after a broker outage a
 * start-up error often is not, and the consumer then stays stopped for good (the process lives on, deaf).
 * This starts a fresh consumer instead, with back-off, until one runs or `stopped()` says to give up.
 */
export function reviveOnFatalCrash(consumer: Consumer, opts: { name: string; start: () => Promise<void>; stopped: () => boolean; logger?: LoggerService }): void {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || opts.stopped()) return;
    opts.logger?.warn(`${opts.name}: consumer stopped by kafkajs after ${payload.error.name}; starting a new one`, { error: payload.error.message });
    void (async () => {
      for (let attempt = 0; !opts.stopped(); attempt++) {
        await new Promise((r) => setTimeout(r, Math.min(REVIVE_MAX_MS, REVIVE_INITIAL_MS * 2 ** attempt)));
        if (opts.stopped()) return;
        try {
          await opts.start();
          return;
        } catch (err) {
          opts.logger?.warn(`${opts.name}: a new consumer could not start yet`, { error: (err as Error).message });
        }
      }
    })();
  });
}
