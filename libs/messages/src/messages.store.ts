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
messageSchema.index({ appId: 1, messageId: 1 });

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
   * One wave of a broadcast (`wave` null: the whole send), written by the run holding the wave before it
   * records the wave in the send's stream: a re-run after a crash overwrites its own document instead of
   * adding to a shared counter. A local-time wave's `skipped` is empty except on the wave that carries the
   * audience's (every wave scans it).
   */
  async recordWave(doc: Omit<MessageDoc, '_id' | 'createdAt' | 'targeted' | 'skipped'>, wave: string | null, targeted: number, skipped: Record<string, number>): Promise<void> {
    await this.messages.updateOne(
      { _id: wave === null ? `${doc.appId}:${doc.messageId}` : `${doc.appId}:${doc.messageId}@${wave}` },
      { $setOnInsert: { ...doc, createdAt: new Date() }, $set: { targeted, skipped } },
      { upsert: true },
    );
  }

  async message(appId: string, messageId: string): Promise<MessageDoc | null> {
    return sumWaves(await this.messages.find({ appId, messageId }).lean())[0] ?? null;
  }

  /** The campaign's messages (one per send or trigger), for their send-time counts. */
  async ofCampaign(appId: string, campaignId: string): Promise<MessageDoc[]> {
    return sumWaves(await this.messages.find({ appId, campaignId }).lean());
  }
}

/** One document per message, its waves' documents added up. */
function sumWaves(docs: MessageDoc[]): MessageDoc[] {
  const byMessage = new Map<string, MessageDoc>();
  for (const d of docs) {
    const m = byMessage.get(d.messageId);
    if (!m) {
      byMessage.set(d.messageId, { ...d, _id: `${d.appId}:${d.messageId}`, skipped: { ...(d.skipped ?? {}) } });
      continue;
    }
    m.targeted += d.targeted;
    for (const [k, v] of Object.entries(d.skipped ?? {})) m.skipped[k] = (m.skipped[k] ?? 0) + v;
    if (d.createdAt < m.createdAt) m.createdAt = d.createdAt;
  }
  return [...byMessage.values()];
}
