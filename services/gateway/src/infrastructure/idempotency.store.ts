import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createHash, createHmac, randomUUID } from 'crypto';
import mongoose, { Schema } from 'mongoose';
import type { PushledgerConfig } from '@pushledger/config';
import { deterministicUuid } from '@pushledger/contracts';
import { CONFIG, CredentialSealError, isUnavailable, MONGO, openCredential, sealCredential } from '@pushledger/platform';
import { WritePositions } from '../application/write-positions';

const IDEMPOTENCY_ID_SALT = Buffer.from('pushledger-idempotency-key');

/** The Idempotency-Key header is empty or longer than 255 characters. */
export class InvalidIdempotencyKeyError extends Error {}
/** The key was used before with another request body. */
export class IdempotencyKeyReusedError extends Error {}

interface Remembered {
  _id: string;
  requestHash: string;
  status: number;
  /** The first answer, sealed (it may hold traits or a device view): the sealed blob, as MongoDB keys may not start with `$`. */
  sealedBody?: string;
  /** Records written before sealing, or without a secret key configured, hold it in the clear. */
  body?: unknown;
  /** The store position the first answer reflected (decimal), so a retry gets the same X-Pushledger-Position. */
  position?: string;
  createdAt: Date;
}

const schema = new Schema<Remembered>({ _id: String, requestHash: String, status: Number, sealedBody: String, body: Schema.Types.Mixed, position: String, createdAt: Date }, { versionKey: false, minimize: false });
schema.index({ createdAt: 1 });

/** FerretDB has no TTL index: each gateway removes expired records this often (and never answers from one). */
const PURGE_EVERY_MS = 600_000;

/**
 * Idempotency-Key on native writes: a retried request gets the first answer and stores nothing new
 * (the key also fixes the command id, so even a retry racing the first one writes each fact once);
 * the same key with another body is 422. A key is remembered for IDEMPOTENCY_RETENTION_HOURS (24 by default).
 */
@Injectable()
export class IdempotencyStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private purger?: NodeJS.Timeout;

  constructor(
    @Inject(MONGO) private readonly mongo: { connection?: mongoose.Connection },
    private readonly positions: WritePositions,
    @Inject(CONFIG) private readonly config: PushledgerConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.purger = setInterval(() => void this.purge().catch(() => undefined), PURGE_EVERY_MS);
  }

  onApplicationShutdown(): void {
    if (this.purger) clearInterval(this.purger);
  }

  async purge(now = new Date()): Promise<number> {
    const res = await this.model().deleteMany({ createdAt: { $lt: new Date(now.getTime() - this.config.idempotency.retentionMs) } });
    return res.deletedCount ?? 0;
  }

  private model() {
    const conn = this.mongo.connection!;
    return (conn.models.GatewayIdempotency as mongoose.Model<Remembered>) ?? conn.model<Remembered>('GatewayIdempotency', schema, 'gateway_idempotency');
  }

  async run(appId: string, key: string | undefined, request: unknown, execute: (commandId: string) => Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> {
    if (key === undefined) return execute(randomUUID());
    if (key.length === 0 || key.length > 255) throw new InvalidIdempotencyKeyError('must be 1 to 255 characters');
    const name = `${appId}:${key}`;
    // Stored under a keyed hash: a client may put a user id or an email in its key.
    const id = `${appId}:${createHmac('sha256', this.config.secretKey?.key ?? IDEMPOTENCY_ID_SALT).update(key, 'utf8').digest('base64url')}`;
    const requestHash = createHash('sha256').update(JSON.stringify(request ?? null)).digest('hex');
    const model = this.model();
    const found = await model.findById(id).lean();
    const seen = found && Date.now() - new Date(found.createdAt).getTime() < this.config.idempotency.retentionMs ? found : null;
    const answer = seen && this.opened(appId, seen);
    // Expired, or sealed under a key no longer configured: forgotten (a retry then decides again, on the same command id).
    if (found && !answer) await model.deleteOne({ _id: id, createdAt: found.createdAt });
    if (seen && answer) {
      if (seen.requestHash !== requestHash) throw new IdempotencyKeyReusedError('this Idempotency-Key was used with a different request body');
      if (seen.position) this.positions.wrote(appId, BigInt(seen.position));
      return { status: seen.status, body: answer.body };
    }
    // A key reused after its record expired is a new request: a new command id, or the owners would take it for a retry of the first.
    const result = await execute(deterministicUuid(found ? `idempotency:${name}:${new Date(found.createdAt).toISOString()}` : `idempotency:${name}`));
    const position = this.positions.ofRequest();
    const kept = this.config.secretKey ? { sealedBody: sealCredential(result.body ?? null, 'idempotency.answer', appId, this.config.secretKey).$sealed } : { body: result.body };
    await model.create({ _id: id, requestHash, status: result.status, ...kept, ...(position === null ? {} : { position: position.toString() }), createdAt: new Date() }).catch((err: { code?: number }) => {
      // The write is done: a read-model database gone meanwhile costs the record, not the answer (a retry runs the same command id again).
      if (err.code !== 11000 && !isUnavailable(err)) throw err;
    });
    return result;
  }

  private opened(appId: string, record: Remembered): { body: unknown } | null {
    if (record.sealedBody === undefined) return { body: record.body };
    try {
      return { body: openCredential({ $sealed: record.sealedBody }, 'idempotency.answer', appId, this.config.secretKey) };
    } catch (err) {
      if (err instanceof CredentialSealError) return null;
      throw err;
    }
  }
}
