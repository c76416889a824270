import { z } from 'zod';

const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

const schema = z.object({
  PORT: intFrom(3000, 1),
  HOST: z.string().default('127.0.0.1'),
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().default('pushledger'),
  KAFKA_TOPIC_SUFFIX: z.string().regex(/^[A-Za-z0-9._-]*$/).default(''),
  EVENT_STORE: z.enum(['postgres', 'eventstoredb']).default('postgres'),
  POSTGRES_URL: z.string().default('postgres://pushledger:pushledger@127.0.0.1:5432/pushledger'),
  EVENTSTORE_CONNECTION_STRING: z.string().optional(),
  MONGODB_URI: z.string().default('mongodb://127.0.0.1:27017/pushledger'),
  PUSHLEDGER_ADMIN_TOKEN: z.string().optional(),
  FCM_ENDPOINT: z.string().url().optional(),
  FCM_CA_FILE: z.string().optional(),
  PUSHLEDGER_FCM_SIMULATOR_URL: z.string().url().optional(),
  PUSHLEDGER_FCM_SIMULATOR_CA_FILE: z.string().optional(),
  DELIVERY_MAX_ATTEMPTS: intFrom(5, 1),
  DELIVERY_RETRY_BASE_MS: intFrom(1000, 0),
  STALE_TOKEN_JOB_INTERVAL_MINUTES: intFrom(60, 0),
  STALE_TOKEN_JOB_DRY_RUN: z.enum(['true', 'false', '1', '0']).default('false'),
  READ_MODEL_MAX_WAIT_MS: intFrom(5000, 0),
  CAMPAIGN_SEND_LEASE_SECONDS: intFrom(60, 2),
  PUSHLEDGER_DATA_DIR: z.string().optional(),
  PUSHLEDGER_SERVICE: z.string().optional(),
  SERVICE_PORT: z.coerce.number().int().min(0).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type Env = z.infer<typeof schema>;

export interface PushledgerConfig {
  http: { port: number; host: string };
  /** Health/metrics port of a non-gateway service (0 = any free port). */
  servicePort?: number;
  /** `topicSuffix` namespaces every topic and consumer group (tests, or several deployments on one cluster). */
  kafka: { brokers: string[]; clientId: string; topicSuffix: string };
  eventStore: { kind: 'postgres' | 'eventstoredb'; postgresUrl: string; eventStoreDbConnectionString?: string };
  mongodbUri: string;
  adminToken?: string;
  /** `endpoint`: all FCM traffic goes there. `simulator`: where apps without credentials send (npm start runs one). */
  fcm: { endpoint?: string; caFile?: string; simulator?: { url: string; caFile: string } };
  delivery: { maxAttempts: number; retryBaseMs: number };
  /** `intervalMinutes` 0 turns the schedule off; `dryRun` reports what would expire and writes nothing. */
  staleTokenJob: { intervalMinutes: number; dryRun: boolean };
  /** Longest a gateway read waits for the read models to reach a written position before it folds the store instead. */
  reads: { maxWaitMs: number };
  /** A broadcast being sent holds a lease it renews; a send whose lease lapsed (its runner died) is taken up again. */
  campaigns: { sendLeaseMs: number };
  dataDir?: string;
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {}

/** The one place that reads the environment; everything else receives a PushledgerConfig. */
export function loadConfig(env: Record<string, string | undefined> = process.env): PushledgerConfig {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.EVENT_STORE === 'eventstoredb' && !e.EVENTSTORE_CONNECTION_STRING) {
    throw new ConfigError('invalid configuration:\n  EVENTSTORE_CONNECTION_STRING: required when EVENT_STORE=eventstoredb');
  }
  return {
    http: { port: e.PORT, host: e.HOST },
    servicePort: e.SERVICE_PORT,
    kafka: { brokers: e.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean), clientId: e.KAFKA_CLIENT_ID, topicSuffix: e.KAFKA_TOPIC_SUFFIX },
    eventStore: { kind: e.EVENT_STORE, postgresUrl: e.POSTGRES_URL, eventStoreDbConnectionString: e.EVENTSTORE_CONNECTION_STRING },
    mongodbUri: e.MONGODB_URI,
    adminToken: e.PUSHLEDGER_ADMIN_TOKEN,
    fcm: {
      endpoint: e.FCM_ENDPOINT,
      caFile: e.FCM_CA_FILE,
      simulator: e.PUSHLEDGER_FCM_SIMULATOR_URL && e.PUSHLEDGER_FCM_SIMULATOR_CA_FILE ? { url: e.PUSHLEDGER_FCM_SIMULATOR_URL, caFile: e.PUSHLEDGER_FCM_SIMULATOR_CA_FILE } : undefined,
    },
    delivery: { maxAttempts: e.DELIVERY_MAX_ATTEMPTS, retryBaseMs: e.DELIVERY_RETRY_BASE_MS },
    staleTokenJob: { intervalMinutes: e.STALE_TOKEN_JOB_INTERVAL_MINUTES, dryRun: e.STALE_TOKEN_JOB_DRY_RUN === 'true' || e.STALE_TOKEN_JOB_DRY_RUN === '1' },
    reads: { maxWaitMs: e.READ_MODEL_MAX_WAIT_MS },
    campaigns: { sendLeaseMs: e.CAMPAIGN_SEND_LEASE_SECONDS * 1000 },
    dataDir: e.PUSHLEDGER_DATA_DIR,
    logLevel: e.LOG_LEVEL,
  };
}
