import { randomBytes, randomUUID } from 'crypto';
import { WrongExpectedVersionError, type EventStore } from '@pushledger/event-store';
import { validateRules, type SegmentRule } from './segment-rules';

/**
 * Segment definitions are facts in the event store, one stream per segment (`segment-<appId>-<id>`):
 * every save is a new version (= stream revision + 1), kept forever, written with the expected revision
 * so two concurrent updates cannot both become version n. They are configuration, not a projection,
 * so a read-model rebuild never touches them.
 */
export interface SegmentRecord {
  id: string;
  appId: string;
  name: string | null;
  rules: SegmentRule;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export const SEGMENT_SAVED = 'SegmentSaved';

interface SegmentSavedData {
  appId: string;
  segmentId: string;
  name: string | null;
  rules: SegmentRule;
  at: string;
}

export const segmentStream = (appId: string, segmentId: string): string => `segment-${appId}-${segmentId}`;

const SEGMENT_ID = /^[A-Za-z0-9_]{1,64}$/;
export const isSegmentId = (id: string): boolean => SEGMENT_ID.test(id);

export class SegmentStore {
  constructor(
    private readonly store: EventStore,
    private readonly maxConflictRetries = 10,
  ) {}

  /**
   * Version 1 of a new segment. `id`: derived from the request by the caller, so a redelivered create finds
   * the segment it made and answers it (its latest version) rather than making a second one.
   */
  async create(appId: string, input: { name?: string | null; rules: unknown }, now = new Date(), id = `seg_${randomBytes(10).toString('hex')}`): Promise<SegmentRecord> {
    const rules = validateRules(input.rules);
    try {
      await this.append(appId, id, 'no_stream', { appId, segmentId: id, name: input.name ?? null, rules, at: now.toISOString() });
    } catch (err) {
      const existing = err instanceof WrongExpectedVersionError ? await this.get(appId, id) : null;
      if (existing) return existing;
      throw err;
    }
    return { id, appId, name: input.name ?? null, rules, version: 1, createdAt: now.toISOString(), updatedAt: now.toISOString() };
  }

  /** A new version; null when there is no such segment. `name` left out keeps the current name. */
  async update(appId: string, id: string, input: { name?: string | null; rules: unknown }, now = new Date()): Promise<SegmentRecord | null> {
    const rules = validateRules(input.rules);
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(appId, id);
      if (!current) return null;
      const name = input.name === undefined ? current.name : input.name;
      try {
        await this.append(appId, id, BigInt(current.version - 1), { appId, segmentId: id, name, rules, at: now.toISOString() });
        return { ...current, name, rules, version: current.version + 1, updatedAt: now.toISOString() };
      } catch (err) {
        if (!(err instanceof WrongExpectedVersionError) || attempt >= this.maxConflictRetries) throw err;
      }
    }
  }

  /** The latest version, or the one asked for. */
  async get(appId: string, id: string, version?: number): Promise<SegmentRecord | null> {
    if (!isSegmentId(id)) return null;
    const events = (await this.store.readStream(segmentStream(appId, id))).filter((e) => e.type === SEGMENT_SAVED);
    if (events.length === 0) return null;
    const chosen = version === undefined ? events[events.length - 1] : events.find((e) => Number(e.streamRevision) + 1 === version);
    if (!chosen) return null;
    const data = chosen.data as SegmentSavedData;
    return {
      id,
      appId,
      name: data.name,
      rules: data.rules,
      version: Number(chosen.streamRevision) + 1,
      createdAt: (events[0].data as SegmentSavedData).at,
      updatedAt: data.at,
    };
  }

  /** The latest version of each of the app's segments, oldest segment first (one scan of the app's segment streams). */
  async list(appId: string): Promise<SegmentRecord[]> {
    const found = new Map<string, SegmentRecord>();
    for await (const e of this.store.readAll({ filter: { streamPrefixes: [segmentStream(appId, '')], eventTypes: [SEGMENT_SAVED] } })) {
      const data = e.data as SegmentSavedData;
      const first = found.get(data.segmentId);
      found.set(data.segmentId, { id: data.segmentId, appId, name: data.name, rules: data.rules, version: Number(e.streamRevision) + 1, createdAt: first?.createdAt ?? data.at, updatedAt: data.at });
    }
    return [...found.values()];
  }

  private async append(appId: string, id: string, expectedRevision: 'no_stream' | bigint, data: SegmentSavedData): Promise<void> {
    const eventId = randomUUID();
    await this.store.appendToStream(segmentStream(appId, id), [{ eventId, type: SEGMENT_SAVED, data, metadata: { appId, correlationId: eventId, causationId: eventId, occurredAt: data.at, schemaVersion: 1 } }], {
      expectedRevision,
    });
  }
}
