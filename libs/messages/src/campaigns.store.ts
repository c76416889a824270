import mongoose, { Schema } from 'mongoose';
import type { CampaignDefinitionV1, CampaignSendStatus } from '@pushledger/contracts';

export interface CampaignSendDoc {
  _id: string;
  appId: string;
  campaignId: string;
  messageId: string;
  /** For a local-time broadcast, the due instant (ISO) of the wave this send is; null for a whole send. */
  wave: string | null;
  status: CampaignSendStatus;
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
  error?: string | null;
  /** How many facts of the send's stream this view reflects. */
  revision?: number;
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
schema.index({ appId: 1, createdAt: -1, id: -1 });

const sendSchema = new Schema<CampaignSendDoc>(
  { _id: String, appId: String, campaignId: String, messageId: String, wave: { type: String, default: null }, status: String, dueAt: Date, startedAt: Date, finishedAt: Date, leaseUntil: Date, runs: Number, targeted: Number, skipped: Schema.Types.Mixed, error: String, revision: Number },
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

  constructor(connection: mongoose.Connection) {
    this.model = (connection.models.Campaign as mongoose.Model<CampaignDoc>) ?? connection.model<CampaignDoc>('Campaign', schema, 'campaigns');
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

  /**
   * The send's waves as its stream last showed them (`revision`: how many facts that was). The stream is
   * the authority; these documents find due waves and answer reads. FerretDB 1.x does not apply a
   * conditional update atomically, so a stale view can win a race: the scheduler rewrites the view from
   * the stream whenever a claim it based on the view is refused.
   */
  async writeSendView(waves: Omit<CampaignSendDoc, '_id'>[], revision: number): Promise<void> {
    for (const w of waves) {
      const _id = sendId(w.appId, w.messageId, w.wave);
      const doc = { ...w, revision };
      const res = await this.sends.updateOne({ _id, $or: [{ revision: { $lt: revision } }, { revision: { $exists: false } }] }, { $set: doc });
      if (res.matchedCount > 0) continue;
      try {
        await this.sends.insertOne({ _id, ...doc });
      } catch (err) {
        // It exists at this revision or a later one.
        if (!isDuplicateKey(err)) throw err;
      }
    }
  }

  /** The campaigns of an app, newest first, `limit` at a time after the cursor `before` (a campaign id). */
  async list(appId: string, limit: number, before?: { createdAt: string; id: string }): Promise<CampaignDoc[]> {
    const filter = before ? { appId, $or: [{ createdAt: { $lt: before.createdAt } }, { createdAt: before.createdAt, id: { $lt: before.id } }] } : { appId };
    return (await this.model.find(filter).sort({ createdAt: -1, id: -1 }).limit(limit).lean()).map(withNulls);
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
