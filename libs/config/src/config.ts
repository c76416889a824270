import { createHash } from 'crypto';
import { readFileSync } from 'fs';
import { z } from 'zod';

const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const flag = (def: 'true' | 'false') => z.enum(['true', 'false', '1', '0']).default(def);
const isOn = (v: string) => v === 'true' || v === '1';

/** The admin token opens every app: shorter ones are guessable (`npm start` generates 38 characters). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

const schema = z.object({
  PORT: intFrom(3000, 1),
  HOST: z.string().default('127.0.0.1'),
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().default('pushledger'),
  KAFKA_TOPIC_SUFFIX: z.string().regex(/^[A-Za-z0-9._-]*$/).default(''),
  KAFKA_SSL: flag('false'),
  KAFKA_SSL_CA_FILE: z.string().optional(),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_SASL_PASSWORD_FILE: z.string().optional(),
  KAFKA_REPLICATION_FACTOR: intFrom(1, 1),
  KAFKA_MIN_INSYNC_REPLICAS: intFrom(1, 1),
  INGEST_TRUST_APP_ID_HEADER: flag('false'),
  EVENT_STORE: z.enum(['postgres', 'eventstoredb']).default('postgres'),
  POSTGRES_URL: z.string().default('postgres://pushledger:pushledger@127.0.0.1:5432/pushledger'),
  EVENTSTORE_CONNECTION_STRING: z.string().optional(),
  MONGODB_URI: z.string().default('mongodb://127.0.0.1:27017/pushledger'),
  PUSHLEDGER_ADMIN_TOKEN: z.string().min(MIN_ADMIN_TOKEN_LENGTH, `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32)`).optional(),
  PUSHLEDGER_SECRET_KEY: z.string().optional(),
  PUSHLEDGER_SECRET_KEY_FILE: z.string().optional(),
  FCM_ENDPOINT: z.string().url().optional(),
  FCM_CA_FILE: z.string().optional(),
  PUSHLEDGER_FCM_SIMULATOR_URL: z.string().url().optional(),
  PUSHLEDGER_FCM_SIMULATOR_CA_FILE: z.string().optional(),
  APNS_ENDPOINT: z.string().url().refine((u) => u.startsWith('https://'), 'must be an https:// URL').optional(),
  APNS_CA_FILE: z.string().optional(),
  PUSHLEDGER_APNS_SIMULATOR_URL: z.string().url().optional(),
  PUSHLEDGER_APNS_SIMULATOR_CA_FILE: z.string().optional(),
  PUSHLEDGER_APNS_SIMULATOR_KEY_FILE: z.string().optional(),
  WEBPUSH_CA_FILE: z.string().optional(),
  PUSHLEDGER_WEBPUSH_SIMULATOR_CA_FILE: z.string().optional(),
  PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE: z.string().optional(),
  DELIVERY_MAX_ATTEMPTS: intFrom(5, 1),
  DELIVERY_RETRY_BASE_MS: intFrom(1000, 0),
  STALE_TOKEN_JOB_INTERVAL_MINUTES: intFrom(60, 0),
  STALE_TOKEN_JOB_DRY_RUN: flag('false'),
  READ_MODEL_MAX_WAIT_MS: intFrom(5000, 0),
  IDEMPOTENCY_RETENTION_HOURS: intFrom(24, 1),
  CAMPAIGN_SEND_LEASE_SECONDS: intFrom(60, 2),
  SEGMENT_ESTIMATE_BUDGET_MS: intFrom(1000, 0),
  WEBHOOK_TIMEOUT_MS: intFrom(10_000, 100),
  WEBHOOK_RETRY_BASE_MS: intFrom(1000, 10),
  WEBHOOK_RETRY_FOR_SECONDS: intFrom(86_400, 0),
  PUSHLEDGER_DATA_DIR: z.string().optional(),
  PUSHLEDGER_SERVICE: z.string().optional(),
  SERVICE_PORT: z.coerce.number().int().min(0).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export type Env = z.infer<typeof schema>;
export type KafkaSaslMechanism = NonNullable<Env['KAFKA_SASL_MECHANISM']>;

export interface PushledgerConfig {
  http: { port: number; host: string };
  /** Health/metrics port of a non-gateway service (0 = any free port). */
  servicePort?: number;
  /** `topicSuffix` namespaces every topic and consumer group (tests, or several deployments on one cluster). */
  kafka: {
    brokers: string[];
    clientId: string;
    topicSuffix: string;
    /** TLS to the brokers; `ca`: PEM of the CA to trust instead of the system's. */
    ssl?: { ca?: string };
    sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
    /** For the topics the services create (production: 3 and 2, so acks=all survives one broker down). */
    replicationFactor: number;
    minInsyncReplicas: number;
  };
  /** `trustAppIdHeader`: an ingest message without a write key may name its app in an `app-id` header. */
  ingest: { trustAppIdHeader: boolean };
  eventStore: { kind: 'postgres' | 'eventstoredb'; postgresUrl: string; eventStoreDbConnectionString?: string };
  mongodbUri: string;
  adminToken?: string;
  /**
   * Key-encryption key sealing app credentials at rest (AES-256-GCM); `kid` names it in every sealed value.
   * Unset: an app cannot be given credentials, and sealed ones cannot be opened.
   */
  secretKey?: { key: Buffer; kid: string };
  /** `endpoint`: all FCM traffic goes there. `simulator`: where apps without credentials send (npm start runs one). */
  fcm: { endpoint?: string; caFile?: string; simulator?: { url: string; caFile: string } };
  /**
   * `endpoint`: all APNs traffic goes to this `https://host:port` (a simulator) instead of Apple's hosts, trusting `ca`
   * (PEM) when set; apps still need their own credentials. `simulator`: where apps without APNs credentials send
   * (npm start runs one), signing with the simulator's own key (`key`, a .p8 PEM).
   */
  apns: { endpoint?: { url: string; ca?: string }; simulator?: { url: string; ca: string; key: string } };
  /**
   * Subscriptions name their push service, so there is no endpoint: `ca` (PEM) is trusted beside the system's CAs for
   * every push service (a simulator's). `simulator`: apps without VAPID credentials sign with its stand-in keys and
   * trust its CA (npm start runs one).
   */
  webpush: { ca?: string; simulator?: { ca: string; vapid: VapidKeys } };
  delivery: { maxAttempts: number; retryBaseMs: number };
  /** `intervalMinutes` 0 turns the schedule off; `dryRun` reports what would expire and writes nothing. */
  staleTokenJob: { intervalMinutes: number; dryRun: boolean };
  /** Longest a gateway read waits for the read models to reach a written position before it folds the store instead. */
  reads: { maxWaitMs: number };
  /** How long an Idempotency-Key's first answer is kept (it may hold personal data). */
  idempotency: { retentionMs: number };
  /** A broadcast being sent holds a lease it renews; a send whose lease lapsed (its runner died) is taken up again. */
  campaigns: { sendLeaseMs: number };
  segments: { estimateBudgetMs: number };
  /** A receiver gets `timeoutMs` to answer; failures are retried from `retryBaseMs`, doubling, for `retryForMs`, then the webhook is disabled. */
  webhooks: { timeoutMs: number; retryBaseMs: number; retryForMs: number };
  dataDir?: string;
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {}

/** The one place that reads the environment; everything else receives a PushledgerConfig. */
export function loadConfig(env: Record<string, string | undefined> = process.env): PushledgerConfig {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  if (!parsed.success) invalid(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  const problems: string[] = [];
  if (e.EVENT_STORE === 'eventstoredb' && !e.EVENTSTORE_CONNECTION_STRING) problems.push('EVENTSTORE_CONNECTION_STRING: required when EVENT_STORE=eventstoredb');
  const ssl = isOn(e.KAFKA_SSL) ? { ca: e.KAFKA_SSL_CA_FILE ? readConfigFile('KAFKA_SSL_CA_FILE', e.KAFKA_SSL_CA_FILE, problems) : undefined } : undefined;
  if (!ssl && e.KAFKA_SSL_CA_FILE) problems.push('KAFKA_SSL_CA_FILE: set KAFKA_SSL=true too');
  const sasl = kafkaSasl(e, problems);
  if (e.KAFKA_MIN_INSYNC_REPLICAS > e.KAFKA_REPLICATION_FACTOR) problems.push(`KAFKA_MIN_INSYNC_REPLICAS: at most KAFKA_REPLICATION_FACTOR (${e.KAFKA_REPLICATION_FACTOR}), or no write with acks=all could ever succeed`);
  const secretKey = secretKeyOf(e, problems);
  const apns = apnsOf(e, problems);
  const webpush = webpushOf(e, problems);
  if (problems.length) invalid(problems);
  return {
    http: { port: e.PORT, host: e.HOST },
    servicePort: e.SERVICE_PORT,
    kafka: {
      brokers: e.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean),
      clientId: e.KAFKA_CLIENT_ID,
      topicSuffix: e.KAFKA_TOPIC_SUFFIX,
      ssl,
      sasl,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
      minInsyncReplicas: e.KAFKA_MIN_INSYNC_REPLICAS,
    },
    ingest: { trustAppIdHeader: isOn(e.INGEST_TRUST_APP_ID_HEADER) },
    eventStore: { kind: e.EVENT_STORE, postgresUrl: e.POSTGRES_URL, eventStoreDbConnectionString: e.EVENTSTORE_CONNECTION_STRING },
    mongodbUri: e.MONGODB_URI,
    adminToken: e.PUSHLEDGER_ADMIN_TOKEN,
    secretKey,
    fcm: {
      endpoint: e.FCM_ENDPOINT,
      caFile: e.FCM_CA_FILE,
      simulator: e.PUSHLEDGER_FCM_SIMULATOR_URL && e.PUSHLEDGER_FCM_SIMULATOR_CA_FILE ? { url: e.PUSHLEDGER_FCM_SIMULATOR_URL, caFile: e.PUSHLEDGER_FCM_SIMULATOR_CA_FILE } : undefined,
    },
    apns,
    webpush,
    delivery: { maxAttempts: e.DELIVERY_MAX_ATTEMPTS, retryBaseMs: e.DELIVERY_RETRY_BASE_MS },
    staleTokenJob: { intervalMinutes: e.STALE_TOKEN_JOB_INTERVAL_MINUTES, dryRun: isOn(e.STALE_TOKEN_JOB_DRY_RUN) },
    reads: { maxWaitMs: e.READ_MODEL_MAX_WAIT_MS },
    idempotency: { retentionMs: e.IDEMPOTENCY_RETENTION_HOURS * 3_600_000 },
    campaigns: { sendLeaseMs: e.CAMPAIGN_SEND_LEASE_SECONDS * 1000 },
    segments: { estimateBudgetMs: e.SEGMENT_ESTIMATE_BUDGET_MS },
    webhooks: { timeoutMs: e.WEBHOOK_TIMEOUT_MS, retryBaseMs: e.WEBHOOK_RETRY_BASE_MS, retryForMs: e.WEBHOOK_RETRY_FOR_SECONDS * 1000 },
    dataDir: e.PUSHLEDGER_DATA_DIR,
    logLevel: e.LOG_LEVEL,
  };
}

/** One line, whatever the number of problems: it is what a service prints before it exits. */
function invalid(problems: string[]): never {
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

function apnsOf(e: Env, problems: string[]): PushledgerConfig['apns'] {
  if (e.APNS_CA_FILE && !e.APNS_ENDPOINT) problems.push('APNS_CA_FILE: set APNS_ENDPOINT too');
  const ca = e.APNS_CA_FILE ? readConfigFile('APNS_CA_FILE', e.APNS_CA_FILE, problems) : undefined;
  const sim = [e.PUSHLEDGER_APNS_SIMULATOR_URL, e.PUSHLEDGER_APNS_SIMULATOR_CA_FILE, e.PUSHLEDGER_APNS_SIMULATOR_KEY_FILE];
  if (sim.some(Boolean) && !sim.every(Boolean)) problems.push('PUSHLEDGER_APNS_SIMULATOR_URL, PUSHLEDGER_APNS_SIMULATOR_CA_FILE and PUSHLEDGER_APNS_SIMULATOR_KEY_FILE go together');
  const simCa = e.PUSHLEDGER_APNS_SIMULATOR_CA_FILE ? readConfigFile('PUSHLEDGER_APNS_SIMULATOR_CA_FILE', e.PUSHLEDGER_APNS_SIMULATOR_CA_FILE, problems) : undefined;
  const simKey = e.PUSHLEDGER_APNS_SIMULATOR_KEY_FILE ? readConfigFile('PUSHLEDGER_APNS_SIMULATOR_KEY_FILE', e.PUSHLEDGER_APNS_SIMULATOR_KEY_FILE, problems) : undefined;
  return {
    endpoint: e.APNS_ENDPOINT ? { url: e.APNS_ENDPOINT, ...(ca ? { ca } : {}) } : undefined,
    simulator: e.PUSHLEDGER_APNS_SIMULATOR_URL && simCa && simKey ? { url: e.PUSHLEDGER_APNS_SIMULATOR_URL, ca: simCa, key: simKey } : undefined,
  };
}

/** A VAPID key pair, base64url, and the subject its JWTs name. */
export interface VapidKeys {
  subject: string;
  publicKey: string;
  privateKey: string;
}

function webpushOf(e: Env, problems: string[]): PushledgerConfig['webpush'] {
  const ca = e.WEBPUSH_CA_FILE ? readConfigFile('WEBPUSH_CA_FILE', e.WEBPUSH_CA_FILE, problems) : undefined;
  const sim = [e.PUSHLEDGER_WEBPUSH_SIMULATOR_CA_FILE, e.PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE];
  if (sim.some(Boolean) && !sim.every(Boolean)) problems.push('PUSHLEDGER_WEBPUSH_SIMULATOR_CA_FILE and PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE go together');
  const simCa = e.PUSHLEDGER_WEBPUSH_SIMULATOR_CA_FILE ? readConfigFile('PUSHLEDGER_WEBPUSH_SIMULATOR_CA_FILE', e.PUSHLEDGER_WEBPUSH_SIMULATOR_CA_FILE, problems) : undefined;
  const vapidJson = e.PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE ? readConfigFile('PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE', e.PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE, problems) : undefined;
  let vapid: VapidKeys | undefined;
  if (vapidJson !== undefined) {
    const parsed = z.object({ subject: z.string().min(1), publicKey: z.string().min(1), privateKey: z.string().min(1) }).safeParse(safeJson(vapidJson));
    if (parsed.success) vapid = parsed.data;
    else problems.push('PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE: must be JSON { subject, publicKey, privateKey }');
  }
  return { ...(ca ? { ca } : {}), ...(simCa && vapid ? { simulator: { ca: simCa, vapid } } : {}) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Which providers send for an app without its own credentials: FCM_ENDPOINT or the FCM simulator, the APNs and Web Push simulators. */
export function providerStandIns(config: Pick<PushledgerConfig, 'fcm' | 'apns' | 'webpush'>): { fcm: boolean; apns: boolean; webpush: boolean } {
  return { fcm: Boolean((config.fcm.endpoint && config.fcm.caFile) || config.fcm.simulator), apns: Boolean(config.apns.simulator), webpush: Boolean(config.webpush.simulator) };
}

function readConfigFile(variable: string, file: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
}

/** base64 of exactly 32 bytes (`openssl rand -base64 32`), given or in a file (its final newline ignored). */
function secretKeyOf(e: Env, problems: string[]): PushledgerConfig['secretKey'] {
  if (e.PUSHLEDGER_SECRET_KEY !== undefined && e.PUSHLEDGER_SECRET_KEY_FILE !== undefined) {
    problems.push('PUSHLEDGER_SECRET_KEY_FILE: set it or PUSHLEDGER_SECRET_KEY, not both');
    return undefined;
  }
  const variable = e.PUSHLEDGER_SECRET_KEY_FILE !== undefined ? 'PUSHLEDGER_SECRET_KEY_FILE' : 'PUSHLEDGER_SECRET_KEY';
  const text = e.PUSHLEDGER_SECRET_KEY ?? (e.PUSHLEDGER_SECRET_KEY_FILE ? readConfigFile(variable, e.PUSHLEDGER_SECRET_KEY_FILE, problems)?.trim() : undefined);
  if (text === undefined) return undefined;
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) {
    // Never the value itself: this line is printed.
    problems.push(`${variable}: must be 32 bytes in base64 (e.g. openssl rand -base64 32)`);
    return undefined;
  }
  return { key, kid: createHash('sha256').update(key).digest('hex').slice(0, 8) };
}

function kafkaSasl(e: Env, problems: string[]): PushledgerConfig['kafka']['sasl'] {
  const given = e.KAFKA_SASL_USERNAME !== undefined || e.KAFKA_SASL_PASSWORD !== undefined || e.KAFKA_SASL_PASSWORD_FILE !== undefined;
  if (!e.KAFKA_SASL_MECHANISM) {
    if (given) problems.push('KAFKA_SASL_MECHANISM: required with KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD (plain, scram-sha-256 or scram-sha-512)');
    return undefined;
  }
  if (e.KAFKA_SASL_PASSWORD !== undefined && e.KAFKA_SASL_PASSWORD_FILE !== undefined) problems.push('KAFKA_SASL_PASSWORD_FILE: set it or KAFKA_SASL_PASSWORD, not both');
  // A password file ends with a newline more often than a password does.
  const password = e.KAFKA_SASL_PASSWORD ?? (e.KAFKA_SASL_PASSWORD_FILE ? readConfigFile('KAFKA_SASL_PASSWORD_FILE', e.KAFKA_SASL_PASSWORD_FILE, problems)?.replace(/\r?\n$/, '') : undefined);
  if (!e.KAFKA_SASL_USERNAME) problems.push(`KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM=${e.KAFKA_SASL_MECHANISM}`);
  if (password === undefined && !e.KAFKA_SASL_PASSWORD_FILE) problems.push(`KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM=${e.KAFKA_SASL_MECHANISM} (or KAFKA_SASL_PASSWORD_FILE)`);
  if (!e.KAFKA_SASL_USERNAME || password === undefined) return undefined;
  return { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password };
}
