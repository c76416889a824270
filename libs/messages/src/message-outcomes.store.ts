import mongoose, { Schema, type mongo } from 'mongoose';
import { boundedBulkWrite } from '@pushledger/read-models';
import type { DeliveryOutcomeKind, DeliveryOutcomeV1, ReceiptV1 } from '@pushledger/contracts';

export interface MessageDoc {
  _id: string;
  appId: string;
  messageId: string;
  campaignId: string | null;
  transactional: boolean;
  targeted: number;
  skipped: Record<string, number>;
  createdAt: Date;
}

export interface OutcomeDoc {
  _id: string;
  appId: string;
  messageId: string;
  campaignId: string | null;
  deviceId: string;
  userId: string | null;
  outcome: DeliveryOutcomeKind;
  reason: string | null;
  attempts: number;
  at: Date;
  deliveredAt: Date | null;
  openedAt: Date | null;
}

const messageSchema = new Schema<MessageDoc>(
  { _id: String, appId: String, messageId: String, campaignId: { type: String, default: null }, transactional: Boolean, targeted: Number, skipped: Schema.Types.Mixed, createdAt: Date },
  { versionKey: false },
);
const outcomeSchema = new Schema<OutcomeDoc>(
  {
    _id: String,
    appId: String,
    messageId: String,
    campaignId: { type: String, default: null },
    deviceId: String,
    userId: { type: String, default: null },
    outcome: String,
    reason: { type: String, default: null },
    attempts: Number,
    at: Date,
    deliveredAt: { type: Date, default: null },
    openedAt: { type: Date, default: null },
  },
  { versionKey: false },
);
outcomeSchema.index({ appId: 1, messageId: 1 });
outcomeSchema.index({ appId: 1, campaignId: 1 });

const pairId = (appId: string, messageId: string, deviceId: string) => `${appId}:${messageId}:${deviceId}`;

/**
 * One outcome per (message, device): upserts keyed by the pair, so a redelivered outcome changes
 * nothing and a late `skipped` never overwrites a real result.
 */
export class MessageOutcomesStore {
  readonly messages: mongoose.Model<MessageDoc>;
  readonly outcomes: mongoose.Model<OutcomeDoc>;

  constructor(connection: mongoose.Connection) {
    this.messages = (connection.models.PushMessage as mongoose.Model<MessageDoc>) ?? connection.model<MessageDoc>('PushMessage', messageSchema, 'messages');
    this.outcomes = (connection.models.PushOutcome as mongoose.Model<OutcomeDoc>) ?? connection.model<OutcomeDoc>('PushOutcome', outcomeSchema, 'message_outcomes');
  }

  async init(): Promise<void> {
    await this.outcomes.createIndexes();
  }

  async recordMessage(doc: Omit<MessageDoc, '_id' | 'createdAt'>): Promise<void> {
    await this.messages.updateOne({ _id: `${doc.appId}:${doc.messageId}` }, { $setOnInsert: { ...doc, createdAt: new Date() } }, { upsert: true });
  }

  /**
   * One wave of a local-time broadcast: targeted adds up over the waves; `skipped` (the whole audience's,
   * which every wave scans) is set by the wave that carries it.
   */
  async recordWave(doc: Omit<MessageDoc, '_id' | 'createdAt' | 'targeted' | 'skipped'>, targeted: number, skipped: Record<string, number> | null): Promise<void> {
    await this.messages.updateOne(
      { _id: `${doc.appId}:${doc.messageId}` },
      { $setOnInsert: { ...doc, createdAt: new Date() }, $inc: { targeted }, ...(skipped ? { $set: { skipped } } : {}) },
      { upsert: true },
    );
  }

  async applyOutcomes(outcomes: DeliveryOutcomeV1[]): Promise<void> {
    if (!outcomes.length) return;
    const coll = this.outcomes.collection as unknown as mongo.Collection<OutcomeDoc>;
    const ops = outcomes.map((o): mongo.AnyBulkWriteOperation<OutcomeDoc> => {
        const fields = { appId: o.appId, messageId: o.messageId, campaignId: o.campaignId, deviceId: o.deviceId, userId: o.userId, outcome: o.outcome, reason: o.reason, attempts: o.attempts, at: new Date(o.at) };
        return o.outcome === 'skipped'
          ? { updateOne: { filter: { _id: pairId(o.appId, o.messageId, o.deviceId) }, update: { $setOnInsert: { ...fields, deliveredAt: null, openedAt: null } }, upsert: true } }
          : { updateOne: { filter: { _id: pairId(o.appId, o.messageId, o.deviceId) }, update: { $set: fields, $setOnInsert: { deliveredAt: null, openedAt: null } }, upsert: true } };
    });
    const res = await boundedBulkWrite(coll, ops);
    // Two upserts of one pair racing: the loser's retry finds the document and updates it.
    const retry = res.writeErrors.filter((w) => w.code === 11000).map((w) => ops[w.index]);
    const other = res.writeErrors.find((w) => w.code !== 11000);
    if (other) throw new Error(`message outcomes write failed: ${other.errmsg ?? `code ${other.code}`}`);
    if (retry.length) {
      const again = await boundedBulkWrite(coll, retry);
      if (again.writeErrors.length) throw new Error(`message outcomes write failed: ${again.writeErrors[0].errmsg ?? `code ${again.writeErrors[0].code}`}`);
    }
  }

  async applyReceipt(r: ReceiptV1): Promise<boolean> {
    const field = r.kind === 'delivered' ? 'deliveredAt' : 'openedAt';
    const res = await this.outcomes.updateOne({ _id: pairId(r.appId, r.messageId, r.deviceId), [field]: null }, { $set: { [field]: new Date(r.at) } });
    return res.matchedCount > 0;
  }

  async message(appId: string, messageId: string): Promise<MessageDoc | null> {
    return this.messages.findById(`${appId}:${messageId}`).lean();
  }

  async outcomesOf(appId: string, messageId: string): Promise<OutcomeDoc[]> {
    return this.outcomes.find({ appId, messageId }).sort({ deviceId: 1 }).lean();
  }

  async hasPair(appId: string, messageId: string, deviceId: string): Promise<boolean> {
    return (await this.outcomes.countDocuments({ _id: pairId(appId, messageId, deviceId) })) > 0;
  }

  /** Counts by outcome (and receipts) for a campaign or a message. */
  async stats(filter: { appId: string; campaignId?: string; messageId?: string }): Promise<Record<string, number>> {
    const match: Record<string, string> = { appId: filter.appId };
    if (filter.campaignId) match.campaignId = filter.campaignId;
    if (filter.messageId) match.messageId = filter.messageId;
    const rows = await this.outcomes.aggregate<{ _id: string; n: number }>([{ $match: match }, { $group: { _id: '$outcome', n: { $sum: 1 } } }]);
    const out: Record<string, number> = { sent: 0, bounced: 0, invalidated: 0, failed: 0, skipped: 0 };
    for (const r of rows) out[r._id] = r.n;
    out.delivered = await this.outcomes.countDocuments({ ...match, deliveredAt: { $ne: null } });
    out.opened = await this.outcomes.countDocuments({ ...match, openedAt: { $ne: null } });
    return out;
  }
}
