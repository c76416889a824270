import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'crypto';
import mongoose, { Schema } from 'mongoose';
import { deterministicUuid } from '@pushledger/contracts';
import { isUnavailable, MONGO } from '@pushledger/platform';
import { WritePositions } from '../application/write-positions';

/** The Idempotency-Key header is empty or longer than 255 characters. */
export class InvalidIdempotencyKeyError extends Error {}
/** The key was used before with another request body. */
export class IdempotencyKeyReusedError extends Error {}

interface Remembered {
  _id: string;
  requestHash: string;
  status: number;
  body: unknown;
  /** The store position the first answer reflected (decimal), so a retry gets the same X-Pushledger-Position. */
  position?: string;
  createdAt: Date;
}

const schema = new Schema<Remembered>({ _id: String, requestHash: String, status: Number, body: Schema.Types.Mixed, position: String, createdAt: Date }, { versionKey: false, minimize: false });

/**
 * Idempotency-Key on native writes: a retried request gets the first answer and stores nothing new
 * (the key also fixes the command id, so even a retry racing the first one writes each fact once);
 * the same key with another body is 422.
 */
@Injectable()
export class IdempotencyStore {
  constructor(
    @Inject(MONGO) private readonly mongo: { connection?: mongoose.Connection },
    private readonly positions: WritePositions,
  ) {}

  private model() {
    const conn = this.mongo.connection!;
    return (conn.models.GatewayIdempotency as mongoose.Model<Remembered>) ?? conn.model<Remembered>('GatewayIdempotency', schema, 'gateway_idempotency');
  }

  async run(appId: string, key: string | undefined, request: unknown, execute: (commandId: string) => Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> {
    if (key === undefined) return execute(randomUUID());
    if (key.length === 0 || key.length > 255) throw new InvalidIdempotencyKeyError('must be 1 to 255 characters');
    const id = `${appId}:${key}`;
    const requestHash = createHash('sha256').update(JSON.stringify(request ?? null)).digest('hex');
    const model = this.model();
    const seen = await model.findById(id).lean();
    if (seen) {
      if (seen.requestHash !== requestHash) throw new IdempotencyKeyReusedError('this Idempotency-Key was used with a different request body');
      if (seen.position) this.positions.wrote(appId, BigInt(seen.position));
      return { status: seen.status, body: seen.body };
    }
    const result = await execute(deterministicUuid(`idempotency:${id}`));
    const position = this.positions.ofRequest();
    await model.create({ _id: id, requestHash, status: result.status, body: result.body, ...(position === null ? {} : { position: position.toString() }), createdAt: new Date() }).catch((err: { code?: number }) => {
      // The write is done: a read-model database gone meanwhile costs the record, not the answer (a retry runs the same command id again).
      if (err.code !== 11000 && !isUnavailable(err)) throw err;
    });
    return result;
  }
}
