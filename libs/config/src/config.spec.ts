import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ConfigError, loadConfig, MIN_ADMIN_TOKEN_LENGTH, providerStandIns } from './config';

const errorOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted it');
};

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.staleTokenJob).toEqual({ intervalMinutes: 60, dryRun: false });
    expect(c.delivery).toEqual({ maxAttempts: 5, retryBaseMs: 1000 });
  });

  it('reads the stale-token job schedule and dry-run switch', () => {
    expect(loadConfig({ STALE_TOKEN_JOB_INTERVAL_MINUTES: '0', STALE_TOKEN_JOB_DRY_RUN: 'true' }).staleTokenJob).toEqual({ intervalMinutes: 0, dryRun: true });
    expect(loadConfig({ STALE_TOKEN_JOB_DRY_RUN: '0' }).staleTokenJob.dryRun).toBe(false);
  });

  it('names every bad variable in one error', () => {
    expect(() => loadConfig({ PORT: 'abc', STALE_TOKEN_JOB_DRY_RUN: 'maybe' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'abc', STALE_TOKEN_JOB_DRY_RUN: 'maybe' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/STALE_TOKEN_JOB_DRY_RUN/);
    }
  });

  it('reads APNS_ENDPOINT / APNS_CA_FILE and the APNs simulator, refusing incomplete or wrong ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-apns-'));
    const ca = join(dir, 'ca.crt');
    writeFileSync(ca, 'PEM');
    expect(loadConfig({}).apns).toEqual({ endpoint: undefined, simulator: undefined });
    expect(loadConfig({ APNS_ENDPOINT: 'https://127.0.0.1:8443', APNS_CA_FILE: ca }).apns.endpoint).toEqual({ url: 'https://127.0.0.1:8443', ca: 'PEM' });
    expect(() => loadConfig({ APNS_ENDPOINT: 'http://127.0.0.1:8443' })).toThrow(/APNS_ENDPOINT/);
    expect(() => loadConfig({ APNS_CA_FILE: ca })).toThrow(/APNS_CA_FILE: set APNS_ENDPOINT too/);
    expect(() => loadConfig({ APNS_ENDPOINT: 'https://127.0.0.1:8443', APNS_CA_FILE: join(dir, 'missing') })).toThrow(/APNS_CA_FILE: cannot read/);
    expect(() => loadConfig({ PUSHLEDGER_APNS_SIMULATOR_URL: 'https://127.0.0.1:1' })).toThrow(/go together/);
    const sim = loadConfig({ PUSHLEDGER_APNS_SIMULATOR_URL: 'https://127.0.0.1:1', PUSHLEDGER_APNS_SIMULATOR_CA_FILE: ca, PUSHLEDGER_APNS_SIMULATOR_KEY_FILE: ca });
    expect(sim.apns.simulator).toEqual({ url: 'https://127.0.0.1:1', ca: 'PEM', key: 'PEM' });
    expect(providerStandIns(sim)).toEqual({ fcm: false, apns: true, webpush: false });
  });

  it('requires a connection string for EventStoreDB', () => {
    expect(() => loadConfig({ EVENT_STORE: 'eventstoredb' })).toThrow(/EVENTSTORE_CONNECTION_STRING/);
  });

  it('refuses an admin token shorter than 32 characters, in one line that does not repeat it', () => {
    expect(MIN_ADMIN_TOKEN_LENGTH).toBe(32);
    const short = 'x'.repeat(31);
    const message = errorOf({ PUSHLEDGER_ADMIN_TOKEN: short });
    expect(message).toMatch(/^invalid configuration: PUSHLEDGER_ADMIN_TOKEN: must be at least 32 characters/);
    expect(message).not.toContain('\n');
    expect(message).not.toContain(short);
    expect(loadConfig({ PUSHLEDGER_ADMIN_TOKEN: 'y'.repeat(32) }).adminToken).toBe('y'.repeat(32));
    expect(loadConfig({}).adminToken).toBeUndefined();
  });

  describe('secret key (seals app credentials)', () => {
    const key = Buffer.alloc(32, 7).toString('base64');

    it('reads base64 of 32 bytes from the variable or a file, and names it by a short id', () => {
      const fromEnv = loadConfig({ PUSHLEDGER_SECRET_KEY: key }).secretKey!;
      expect(fromEnv.key).toEqual(Buffer.alloc(32, 7));
      expect(fromEnv.kid).toMatch(/^[0-9a-f]{8}$/);
      const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
      writeFileSync(join(dir, 'k'), `${key}\n`);
      expect(loadConfig({ PUSHLEDGER_SECRET_KEY_FILE: join(dir, 'k') }).secretKey).toEqual(fromEnv);
      expect(loadConfig({}).secretKey).toBeUndefined();
    });

    it('refuses a key of another length, or both variables, without printing the key', () => {
      const short = Buffer.alloc(16, 1).toString('base64');
      const message = errorOf({ PUSHLEDGER_SECRET_KEY: short });
      expect(message).toMatch(/PUSHLEDGER_SECRET_KEY: must be 32 bytes in base64/);
      expect(message).not.toContain(short);
      expect(errorOf({ PUSHLEDGER_SECRET_KEY: 'not base64!' })).toMatch(/PUSHLEDGER_SECRET_KEY: must be 32 bytes/);
      expect(errorOf({ PUSHLEDGER_SECRET_KEY: key, PUSHLEDGER_SECRET_KEY_FILE: '/nope' })).toMatch(/not both/);
      expect(errorOf({ PUSHLEDGER_SECRET_KEY_FILE: '/nope/key' })).toMatch(/PUSHLEDGER_SECRET_KEY_FILE: cannot read/);
    });
  });

  it('keeps several problems on one line', () => {
    expect(errorOf({ PORT: 'abc', EVENT_STORE: 'eventstoredb', KAFKA_SASL_MECHANISM: 'scram-sha-256' })).not.toContain('\n');
    expect(errorOf({ EVENT_STORE: 'eventstoredb', KAFKA_SASL_MECHANISM: 'scram-sha-256' })).toMatch(/EVENTSTORE_CONNECTION_STRING.*; KAFKA_SASL_USERNAME/);
  });

  describe('Kafka security', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushledger-config-'));
    const caFile = join(dir, 'ca.pem');
    const passwordFile = join(dir, 'password');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(passwordFile, 's3cret-from-file\n');

    it('is off by default, with one replica and no trusted app-id header', () => {
      const { kafka, ingest } = loadConfig({});
      expect(kafka.ssl).toBeUndefined();
      expect(kafka.sasl).toBeUndefined();
      expect({ rf: kafka.replicationFactor, minIsr: kafka.minInsyncReplicas }).toEqual({ rf: 1, minIsr: 1 });
      expect(ingest.trustAppIdHeader).toBe(false);
    });

    it('reads TLS with a CA file and each SASL mechanism', () => {
      const c = loadConfig({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: caFile, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'pushledger', KAFKA_SASL_PASSWORD: 'pw' });
      expect(c.kafka.ssl).toEqual({ ca: expect.stringContaining('BEGIN CERTIFICATE') });
      expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'pushledger', password: 'pw' });
      expect(loadConfig({ KAFKA_SSL: '1' }).kafka.ssl).toEqual({ ca: undefined });
      for (const mechanism of ['plain', 'scram-sha-256'] as const) {
        expect(loadConfig({ KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }).kafka.sasl?.mechanism).toBe(mechanism);
      }
    });

    it('reads the password from a file, without its final newline', () => {
      const c = loadConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: passwordFile });
      expect(c.kafka.sasl?.password).toBe('s3cret-from-file');
    });

    it('names what is missing or contradictory', () => {
      expect(errorOf({ KAFKA_SASL_MECHANISM: 'gssapi' })).toMatch(/KAFKA_SASL_MECHANISM/);
      expect(errorOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'p' })).toMatch(/KAFKA_SASL_USERNAME: required/);
      expect(errorOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' })).toMatch(/KAFKA_SASL_PASSWORD: required/);
      expect(errorOf({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toMatch(/KAFKA_SASL_MECHANISM: required/);
      expect(errorOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_PASSWORD_FILE: passwordFile })).toMatch(/not both/);
      expect(errorOf({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: join(dir, 'missing') })).toMatch(/KAFKA_SASL_PASSWORD_FILE: cannot read .*missing \(ENOENT\)/);
      expect(errorOf({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: join(dir, 'nope.pem') })).toMatch(/KAFKA_SSL_CA_FILE: cannot read/);
      expect(errorOf({ KAFKA_SSL_CA_FILE: caFile })).toMatch(/KAFKA_SSL_CA_FILE: set KAFKA_SSL=true too/);
    });

    it('reads the replication of the topics it creates, and refuses a min.insync.replicas above it', () => {
      const c = loadConfig({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' });
      expect({ rf: c.kafka.replicationFactor, minIsr: c.kafka.minInsyncReplicas }).toEqual({ rf: 3, minIsr: 2 });
      expect(errorOf({ KAFKA_MIN_INSYNC_REPLICAS: '2' })).toMatch(/KAFKA_MIN_INSYNC_REPLICAS: at most KAFKA_REPLICATION_FACTOR \(1\)/);
      expect(errorOf({ KAFKA_REPLICATION_FACTOR: '0' })).toMatch(/KAFKA_REPLICATION_FACTOR/);
    });

    it('trusts the app-id header of ingest messages only when told to', () => {
      expect(loadConfig({ INGEST_TRUST_APP_ID_HEADER: 'true' }).ingest.trustAppIdHeader).toBe(true);
      expect(loadConfig({ INGEST_TRUST_APP_ID_HEADER: 'false' }).ingest.trustAppIdHeader).toBe(false);
      expect(errorOf({ INGEST_TRUST_APP_ID_HEADER: 'yes' })).toMatch(/INGEST_TRUST_APP_ID_HEADER/);
    });
  });
});
