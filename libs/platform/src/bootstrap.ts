import 'reflect-metadata';
import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig, PushledgerConfig, ConfigError } from '@pushledger/config';
import { JsonLogger } from '@pushledger/observability';

export const SERVICE_NAMES = ['gateway', 'registration', 'identity', 'campaign', 'delivery'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Non-gateway services answer /health and /metrics on PORT + their offset unless SERVICE_PORT says otherwise. */
const PORT_OFFSET: Record<ServiceName, number> = { gateway: 0, registration: 101, identity: 102, campaign: 103, delivery: 104 };

export function servicePort(config: PushledgerConfig, name: ServiceName): number {
  if (name === 'gateway') return config.http.port;
  return config.servicePort ?? config.http.port + PORT_OFFSET[name];
}

const START_RETRY_INITIAL_MS = 500;
const START_RETRY_MAX_MS = 15_000;

export type ConfigureApp = (app: INestApplication, config: PushledgerConfig) => void | Promise<void>;

export interface ServiceSetup {
  /** Before start-up: middleware, global filters and pipes, docs (Nest's own body parser is then off). */
  configure?: ConfigureApp;
  /** After the providers' start-up hooks, before the port opens: e.g. connect and start the Kafka transport. */
  start?: (app: INestApplication, config: PushledgerConfig) => Promise<void>;
}

export async function bootstrapService(name: ServiceName, module: (config: PushledgerConfig) => Type<unknown>, setup: ConfigureApp | ServiceSetup = {}): Promise<INestApplication> {
  const { configure, start } = typeof setup === 'function' ? { configure: setup, start: undefined } : setup;
  let config: PushledgerConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = new JsonLogger(name, config.logLevel);
  // An engine away at start-up costs a wait, not the process: no supervisor needed to try again.
  for (let attempt = 1; ; attempt++) {
    let app: INestApplication | undefined;
    try {
      app = await NestFactory.create(module(config), { logger, bufferLogs: false, bodyParser: !configure, abortOnError: false });
      app.enableShutdownHooks();
      await configure?.(app, config);
      if (start) {
        await app.init();
        await start(app, config);
      }
      const port = servicePort(config, name);
      await app.listen(port, config.http.host);
      const url = await app.getUrl();
      logger.log(`${name} listening on ${url.replace('[::1]', '127.0.0.1')}`);
      return app;
    } catch (err) {
      await app?.close().catch(() => undefined);
      const wait = Math.min(START_RETRY_MAX_MS, START_RETRY_INITIAL_MS * 2 ** Math.min(attempt - 1, 10));
      logger.error(`${name} could not start (attempt ${attempt}); trying again in ${wait} ms`, { error: (err as Error).message });
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
