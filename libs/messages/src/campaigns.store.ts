import mongoose, { Schema } from 'mongoose';
import type { CampaignDefinitionV1 } from '@pushledger/contracts';

export interface CampaignSendDoc {
  _id: string;
  appId: string;
  campaignId: string;
  messageId: string;
  /** For a local-time broadcast, the due instant (ISO) of the wave this send is; null for a whole send. */
  wave: string | null;
  status: 'scheduled' | 'sending' | 'sent';
  dueAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  targeted: number;
  skipped: Record<string, number>;
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
    schedule: Schema.Types.Mixed,
    createdAt: String,
    active: Boolean,
  },
  { versionKey: false, minimize: false },
);
schema.index({ appId: 1, kind: 1, active: 1 });

const sendSchema = new Schema<CampaignSendDoc>(
  { _id: String, appId: String, campaignId: String, messageId: String, wave: { type: String, default: null }, status: String, dueAt: Date, startedAt: Date, finishedAt: Date, targeted: Number, skipped: Schema.Types.Mixed },
  { versionKey: false, minimize: false },
);
sendSchema.index({ status: 1, dueAt: 1 });
sendSchema.index({ appId: 1, campaignId: 1 });

const sendId = (appId: string, messageId: string, wave: string | null) => (wave === null ? `${appId}:${messageId}` : `${appId}:${messageId}@${wave}`);
/** FerretDB 1.x drops null fields of an upsert's $setOnInsert, and lean reads apply no defaults: absent means null. */
function withNulls(doc: CampaignDoc): CampaignDoc {
  return { ...doc, audience: doc.audience ?? null, trigger: doc.trigger ?? null, devicePolicy: doc.devicePolicy ?? null, schedule: doc.schedule ?? null };
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

  /** Records a send once per message id; false when it already exists (a redelivered command). */
  async addSend(appId: string, campaignId: string, messageId: string, dueAt: Date, status: 'scheduled' | 'sending', wave: string | null = null): Promise<boolean> {
    const res = await this.sends.updateOne(
      { _id: sendId(appId, messageId, wave) },
      { $setOnInsert: { appId, campaignId, messageId, wave, status, dueAt, startedAt: status === 'sending' ? new Date() : null, finishedAt: null, targeted: 0, skipped: {} } },
      { upsert: true },
    );
    return res.upsertedCount > 0;
  }

  /** Claims a due scheduled send: exactly one caller gets true. */
  async claim(send: Pick<CampaignSendDoc, '_id'>): Promise<boolean> {
    const res = await this.sends.updateOne({ _id: send._id, status: 'scheduled' }, { $set: { status: 'sending', startedAt: new Date() } });
    return res.modifiedCount > 0;
  }

  async finishSend(appId: string, messageId: string, wave: string | null, targeted: number, skipped: Record<string, number>): Promise<void> {
    await this.sends.updateOne({ _id: sendId(appId, messageId, wave) }, { $set: { status: 'sent', finishedAt: new Date(), targeted, skipped } });
  }

  async sendsOf(appId: string, campaignId: string): Promise<CampaignSendDoc[]> {
    return this.sends.find({ appId, campaignId }).sort({ dueAt: 1 }).lean();
  }

  async getSend(appId: string, messageId: string): Promise<CampaignSendDoc | null> {
    return this.sends.findById(`${appId}:${messageId}`).lean();
  }

  async dueSends(now: Date): Promise<CampaignSendDoc[]> {
    return this.sends.find({ status: 'scheduled', dueAt: { $lte: now } }).limit(100).lean();
  }
}
