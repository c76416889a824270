import mongoose, { Schema } from 'mongoose';

/** What the sender recorded for a message: its audience at send time. Outcomes and their counters are delivery's (its PostgreSQL ledger). */
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

const messageSchema = new Schema<MessageDoc>(
  { _id: String, appId: String, messageId: String, campaignId: { type: String, default: null }, transactional: Boolean, targeted: Number, skipped: Schema.Types.Mixed, createdAt: Date },
  { versionKey: false },
);
messageSchema.index({ appId: 1, campaignId: 1 });

/** One document per message, keyed by app and message: another app's message id reads as missing. */
export class MessagesStore {
  readonly messages: mongoose.Model<MessageDoc>;

  constructor(connection: mongoose.Connection) {
    this.messages = (connection.models.PushMessage as mongoose.Model<MessageDoc>) ?? connection.model<MessageDoc>('PushMessage', messageSchema, 'messages');
  }

  async init(): Promise<void> {
    await this.messages.createIndexes();
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

  async message(appId: string, messageId: string): Promise<MessageDoc | null> {
    return this.messages.findById(`${appId}:${messageId}`).lean();
  }

  /** The campaign's messages (one per send or trigger), for their send-time counts. */
  async ofCampaign(appId: string, campaignId: string): Promise<MessageDoc[]> {
    return this.messages.find({ appId, campaignId }).lean();
  }
}
