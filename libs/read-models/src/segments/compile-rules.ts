import { DAY_MS } from '@pushledger/domain';
import { encodeKey, versionSortKey } from '../keys';
import { DeviceAttributes, type DeviceAttribute, type Operator, type SegmentRule } from './segment-rules';

export interface CompileContext {
  now: Date;
  /** The app's staleness window, for `eligibleDevice`. */
  staleAfterDays: number;
}

export type MongoFilter = Record<string, unknown>;

/** Matches no document (an empty `$or` is not accepted by every engine). */
const NOTHING: MongoFilter = { _id: { $in: [] } };

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const daysAgo = (ctx: CompileContext, days: number): string => new Date(ctx.now.getTime() - days * DAY_MS).toISOString();
const iso = (v: unknown): string => new Date(String(v)).toISOString();
const sortKey = (v: unknown): string => versionSortKey(String(v))!;

const RANGE: Partial<Record<Operator, string>> = { gt: '$gt', gte: '$gte', lt: '$lt', lte: '$lte' };

/**
 * A validated rule tree as a filter on user documents. Every condition is on one field, so a device
 * condition on `devices.<field>` means "one of the user's devices matches" on MongoDB and on FerretDB
 * alike (FerretDB 1.x has no `$elemMatch` on documents); negative device conditions (`ne`, `exists:
 * false`) are spelled as positive ones for the same reason ("a device whose platform is not ios",
 * not "no device is ios"). The caller adds the tenant (`appId`) and leaves erased users out.
 */
export function compileRules(rule: SegmentRule, ctx: CompileContext): MongoFilter {
  if ('all' in rule) return rule.all.length === 0 ? {} : rule.all.length === 1 ? compileRules(rule.all[0], ctx) : { $and: rule.all.map((r) => compileRules(r, ctx)) };
  if ('any' in rule) return rule.any.length === 0 ? NOTHING : rule.any.length === 1 ? compileRules(rule.any[0], ctx) : { $or: rule.any.map((r) => compileRules(r, ctx)) };
  if ('not' in rule) return { $nor: [compileRules(rule.not, ctx)] };
  if ('eligibleDevice' in rule) {
    // reachableSeenAt is lastSeenAt for a device nothing but staleness could stop (see DeviceSummary).
    return { unsubscribed: false, 'devices.reachableSeenAt': { $gt: daysAgo(ctx, ctx.staleAfterDays) } };
  }
  if ('trait' in rule) return traitCondition(`traits.${encodeKey(rule.trait)}`, rule.op, rule.value, ctx);
  if ('topic' in rule) return topicCondition(`topics.${rule.topic}`, rule.op, rule.value);
  return deviceCondition(rule.device, rule.op, rule.value, ctx);
}

function traitCondition(path: string, op: Operator, value: unknown, ctx: CompileContext): MongoFilter {
  switch (op) {
    case 'eq':
      return { [path]: value };
    case 'ne':
      return { [path]: { $ne: value } };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return { [path]: { [RANGE[op]!]: value } };
    case 'in':
      return { [path]: { $in: value } };
    case 'exists':
      return { [path]: { $exists: value !== false } };
    case 'contains':
      // A substring of a string trait (or of a string in an array trait); an element of an array trait.
      return typeof value === 'string' ? { [path]: { $regex: escapeRegex(value) } } : { [path]: { $elemMatch: { $eq: value } } };
    case 'within_days':
      return { [path]: { $gte: daysAgo(ctx, Number(value)) } };
    case 'older_than_days':
      return { [path]: { $lt: daysAgo(ctx, Number(value)) } };
    case 'semver_lt':
    case 'semver_gte':
      throw new Error(`${op} does not apply to traits`);
  }
}

/** Topic names are TOPIC_NAME (safe as field names). A topic never set is on, so "on" is "not set to false". */
function topicCondition(path: string, op: Operator, value: unknown): MongoFilter {
  if (op === 'exists') return { [path]: { $exists: value !== false } };
  const on = op === 'eq' ? value === true : value !== true;
  return on ? { [path]: { $ne: false } } : { [path]: false };
}

function deviceCondition(attr: DeviceAttribute, op: Operator, value: unknown, ctx: CompileContext): MongoFilter {
  const spec = DeviceAttributes[attr];
  const path = `devices.${attr}`;
  const sortPath = `devices.${attr}Sort`;
  switch (op) {
    case 'eq':
      return { [path]: value };
    case 'in':
      return { [path]: { $in: value } };
    case 'ne':
      if ('values' in spec) return { [path]: { $in: (spec.values as readonly string[]).filter((v) => v !== value) } };
      // Not `$in: [.., null]`: null in `$in` also matches a user without devices.
      if (spec.kind === 'boolean') return { $or: [{ [path]: !value }, { [path]: { $type: 'null' } }] };
      // Some device's value differs: smaller, larger, or not set.
      return { $or: [{ [path]: { $lt: value } }, { [path]: { $gt: value } }, { [path]: { $type: 'null' } }] };
    case 'exists':
      return { [path]: { $type: value === false ? 'null' : spec.kind === 'boolean' ? 'bool' : 'string' } };
    case 'contains':
      return { [path]: { $regex: escapeRegex(String(value)) } };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      if (spec.kind === 'version') return { [sortPath]: { [RANGE[op]!]: sortKey(value) } };
      if (spec.kind === 'date') return { [path]: { [RANGE[op]!]: iso(value) } };
      return { [path]: { [RANGE[op]!]: value } };
    case 'semver_lt':
      return { [sortPath]: { $lt: sortKey(value) } };
    case 'semver_gte':
      return { [sortPath]: { $gte: sortKey(value) } };
    case 'within_days':
      return { [path]: { $gte: daysAgo(ctx, Number(value)) } };
    case 'older_than_days':
      return { [path]: { $lt: daysAgo(ctx, Number(value)) } };
  }
}

/** The whole query for one app: tenant and "not erased" first, where FerretDB can push them down to PostgreSQL. */
export function segmentFilter(appId: string, rule: SegmentRule | null, ctx: CompileContext): MongoFilter {
  const base: MongoFilter = { appId, erased: false };
  if (rule === null) return base;
  const compiled = compileRules(rule, ctx);
  return Object.keys(compiled).length === 0 ? base : { ...base, $and: [compiled] };
}
