import mongoose, { Schema } from 'mongoose';
import type { CampaignDefinitionV1 } from '@pushledger/contracts';

export interface CampaignSendDoc {
  _id: string;
  appId: string;
  campaignId: string;
  messageId: string;
  /** For a local-time broadcast, the due instant (ISO) of the wave this send is; null for a whole send. */
  wave: string | null;
  status: 'scheduled' | 'sending' | 'sent' | 'failed';
  dueAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** While sending: until when the runner that claimed it owns it. */
  leaseUntil: Date | null;
  /** How many times a runner took the send up (more than 1: it was resumed after a runner died). */
  runs: number;
  targeted: number;
  skipped: Record<string, number>;
  /** Why a failed send stopped being retried. */
  error?: string;
}

export interface CampaignDoc extends CampaignDefinitionV1 {
  _id: string;
  active: boolean;
}

const schema = new Schema<CampaignDoc>(
  {
    _id: String,
    id: String,
    appId: String,
    name: String,
    kind: String,
    audience: Schema.Types.Mixed,
    trigger: Schema.Types.Mixed,
    content: Schema.Types.Mixed,
    transactional: Boolean,
    devicePolicy: { type: String, default: null },
    topic: { type: String, default: null },
    schedule: Schema.Types.Mixed,
    createdAt: String,
    active: Boolean,
  },
  { versionKey: false, minimize: false },
);
schema.index({ appId: 1, kind: 1, active: 1 });

const sendSchema = new Schema<CampaignSendDoc>(
  { _id: String, appId: String, campaignId: String, messageId: String, wave: { type: String, default: null }, status: String, dueAt: Date, startedAt: Date, finishedAt: Date, leaseUntil: Date, runs: Number, targeted: Number, skipped: Schema.Types.Mixed, error: String },
  { versionKey: false, minimize: false },
);
sendSchema.index({ status: 1, dueAt: 1 });
sendSchema.index({ appId: 1, campaignId: 1 });

const isDuplicateKey = (err: unknown): boolean => (err as { code?: number }).code === 11000;
const sendId = (appId: string, messageId: string, wave: string | null) => (wave === null ? `${appId}:${messageId}` : `${appId}:${messageId}@${wave}`);
/** FerretDB 1.x drops null fields of an upsert's $setOnInsert, and lean reads apply no defaults: absent means null. */
function withNulls(doc: CampaignDoc): CampaignDoc {
  return { ...doc, audience: doc.audience ?? null, trigger: doc.trigger ?? null, devicePolicy: doc.devicePolicy ?? null, topic: doc.topic ?? null, schedule: doc.schedule ?? null };
}

/** Campaign definitions and their sends; written by the campaign service, read by the gateway. */
export class CampaignsStore {
  readonly model: mongoose.Model<CampaignDoc>;
  readonly sends: mongoose.Model<CampaignSendDoc>;
  private readonly runClaims: mongoose.mongo.Collection<{ _id: string; at: Date }>;

  constructor(connection: mongoose.Connection) {
    this.model = (connection.models.Campaign as mongoose.Model<CampaignDoc>) ?? connection.model<CampaignDoc>('Campaign', schema, 'campaigns');
    this.runClaims = connection.collection<{ _id: string; at: Date }>('campaign_send_runs');
    this.sends = (connection.models.CampaignSend as mongoose.Model<CampaignSendDoc>) ?? connection.model<CampaignSendDoc>('CampaignSend', sendSchema, 'campaign_sends');
  }

  async init(): Promise<void> {
    await this.model.createIndexes();
    await this.sends.createIndexes();
  }

  /** Idempotent by id: a retried create keeps the first definition. */
  async create(c: CampaignDefinitionV1): Promise<CampaignDoc> {
    await this.model.updateOne({ _id: `${c.appId}:${c.id}` }, { $setOnInsert: { ...c, active: c.kind !== 'broadcast' } }, { upsert: true });
    return (await this.get(c.appId, c.id))!;
  }

  async get(appId: string, id: string): Promise<CampaignDoc | null> {
    const doc = await this.model.findById(`${appId}:${id}`).lean();
    return doc && withNulls(doc);
  }

  async triggered(appId: string, event: string): Promise<CampaignDoc[]> {
    return (await this.model.find({ appId, kind: 'triggered', active: true, 'trigger.event': event }).lean()).map(withNulls);
  }

  /** Records a send once per message id; false when it already exists (a redelivered command). */
  /** Records a send to be run when due (now, for an immediate broadcast); false if it was already recorded. */
  async addSend(appId: string, campaignId: string, messageId: string, dueAt: Date, wave: string | null = null): Promise<boolean> {
    try {
      const res = await this.sends.updateOne(
        { _id: sendId(appId, messageId, wave) },
        { $setOnInsert: { appId, campaignId, messageId, wave, status: 'scheduled', dueAt, startedAt: null, finishedAt: null, leaseUntil: null, runs: 0, targeted: 0, skipped: {} } },
        { upsert: true },
      );
      return res.upsertedCount > 0;
    } catch (err) {
      // Two concurrent upserts of one id: the unique _id lets one insert; the other learns it exists.
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  /**
   * Claims a due send, or one whose runner's lease lapsed: exactly one caller gets true. FerretDB 1.x does
   * not apply a conditional update atomically (concurrent `updateOne({_id, status})` all match), so the
   * claim is the insert of a run document with a unique id: `<send>#<run>`, run = the runs the caller saw + 1.
   */
  async claim(send: Pick<CampaignSendDoc, '_id' | 'status' | 'runs'>, now: Date, leaseMs: number): Promise<boolean> {
    const run = (send.runs ?? 0) + 1;
    try {
      await this.runClaims.insertOne({ _id: `${send._id}#${run}`, at: now });
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
    await this.sends.updateOne(
      { _id: send._id, status: { $in: ['scheduled', 'sending'] } },
      { $set: { status: 'sending', runs: run, leaseUntil: new Date(now.getTime() + leaseMs), ...(send.status === 'scheduled' ? { startedAt: now } : {}) } },
    );
    return true;
  }

  /** Extends run number `run`'s lease; false if the send finished or was taken up by a later run after a lapse. */
  async renewLease(id: string, run: number, until: Date): Promise<boolean> {
    const res = await this.sends.updateOne({ _id: id, status: 'sending', runs: run }, { $set: { leaseUntil: until } });
    return res.matchedCount > 0;
  }

  async finishSend(appId: string, messageId: string, wave: string | null, targeted: number, skipped: Record<string, number>): Promise<void> {
    await this.sends.updateOne({ _id: sendId(appId, messageId, wave) }, { $set: { status: 'sent', finishedAt: new Date(), leaseUntil: null, targeted, skipped } });
  }

  async failSend(id: string, run: number, error: string): Promise<void> {
    await this.sends.updateOne({ _id: id, status: 'sending', runs: run }, { $set: { status: 'failed', finishedAt: new Date(), leaseUntil: null, error } });
  }

  async sendsOf(appId: string, campaignId: string): Promise<CampaignSendDoc[]> {
    return this.sends.find({ appId, campaignId }).sort({ dueAt: 1 }).lean();
  }

  async getSend(appId: string, messageId: string): Promise<CampaignSendDoc | null> {
    return this.sends.findById(`${appId}:${messageId}`).lean();
  }

  async dueSends(now: Date): Promise<CampaignSendDoc[]> {
    return this.sends
      .find({ $or: [{ status: 'scheduled', dueAt: { $lte: now } }, { status: 'sending', leaseUntil: { $lt: now } }] })
      .sort({ dueAt: 1 })
      .limit(100)
      .lean();
  }
}
