/**
 * The segment rule language (api.md): a node is `{ all: [nodes] }`, `{ any: [nodes] }`, `{ not: node }`,
 * a user-trait condition `{ trait, op, value? }`, a device condition `{ device, op, value? }` (true when
 * one of the user's devices matches), or `{ eligibleDevice: true }` (the user could get a marketing push
 * on at least one device now). `{ all: [] }` is everyone, `{ any: [] }` nobody. A topic condition
 * `{ topic, op: eq|ne|exists, value? }` is on the user's subscription topics: `eq true` is subscribed (a
 * topic never set counts as on), `eq false` turned off, `exists` set either way.
 */
import { TOPIC_NAME, type JsonValue } from '@pushledger/contracts';
import { versionSortKey } from '../keys';

export const Operators = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists', 'contains', 'semver_lt', 'semver_gte', 'within_days', 'older_than_days'] as const;
export type Operator = (typeof Operators)[number];

export type Scalar = string | number | boolean | null;

export type SegmentRule =
  | { all: SegmentRule[] }
  | { any: SegmentRule[] }
  | { not: SegmentRule }
  | { trait: string; op: Operator; value?: JsonValue }
  | { device: DeviceAttribute; op: Operator; value?: JsonValue }
  | { topic: string; op: Operator; value?: JsonValue }
  | { eligibleDevice: true };

type Kind = 'enum' | 'text' | 'version' | 'boolean' | 'date';

export const DeviceAttributes = {
  platform: { kind: 'enum', values: ['android', 'ios', 'web'] },
  provider: { kind: 'enum', values: ['fcm', 'apns'] },
  status: { kind: 'enum', values: ['active', 'stale', 'invalid'] },
  lastStatus: { kind: 'enum', values: ['unused', 'sent', 'bounced', 'suppressed'] },
  model: { kind: 'text' },
  locale: { kind: 'text' },
  timezone: { kind: 'text' },
  osVersion: { kind: 'version' },
  appVersion: { kind: 'version' },
  pushEnabled: { kind: 'boolean' },
  lastSeenAt: { kind: 'date' },
  registeredAt: { kind: 'date' },
} as const satisfies Record<string, { kind: Kind; values?: readonly string[] }>;
export type DeviceAttribute = keyof typeof DeviceAttributes;

/** What each kind of field accepts. Versions compare as versions (gt/lt too); dates as instants. */
const OPS_BY_KIND: Record<Kind | 'trait' | 'topic', readonly Operator[]> = {
  topic: ['eq', 'ne', 'exists'],
  trait: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists', 'contains', 'within_days', 'older_than_days'],
  enum: ['eq', 'ne', 'in'],
  text: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists', 'contains'],
  version: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists', 'contains', 'semver_lt', 'semver_gte'],
  boolean: ['eq', 'ne', 'exists'],
  date: ['gt', 'gte', 'lt', 'lte', 'within_days', 'older_than_days'],
};

export const RULE_LIMITS = { maxDepth: 12, maxNodes: 500, maxInValues: 1000, maxDays: 36500, maxNameLength: 256 } as const;

export interface RuleIssue {
  /** Where, from the request body's point of view: `rules.all[2].op`. */
  path: string;
  reason: string;
}

export class SegmentRulesError extends Error {
  constructor(readonly issues: RuleIssue[]) {
    super(issues.length ? `${issues[0].path}: ${issues[0].reason}` : 'invalid rules');
  }
}

const NODE_KEYS = ['all', 'any', 'not', 'trait', 'device', 'topic', 'eligibleDevice'] as const;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const show = (v: unknown): string => {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};
const isIsoDate = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) && !Number.isNaN(Date.parse(v));

/**
 * Checks a rule tree, naming every bad part by its path (`root` is the path of the tree itself).
 * Returns the tree typed, or throws SegmentRulesError with the issues (the message names the first).
 */
export function validateRules(input: unknown, root = 'rules'): SegmentRule {
  const issues: RuleIssue[] = [];
  let nodes = 0;
  const bad = (path: string, reason: string) => {
    if (issues.length < 20) issues.push({ path, reason });
  };

  const visit = (node: unknown, path: string, depth: number): void => {
    if (++nodes > RULE_LIMITS.maxNodes) {
      if (nodes === RULE_LIMITS.maxNodes + 1) bad(path, `too many nodes (at most ${RULE_LIMITS.maxNodes})`);
      return;
    }
    if (depth > RULE_LIMITS.maxDepth) return bad(path, `nested too deep (at most ${RULE_LIMITS.maxDepth} levels)`);
    if (!isObject(node)) return bad(path, `must be an object with one of ${NODE_KEYS.join(', ')}`);
    const kinds = NODE_KEYS.filter((k) => k in node);
    if (kinds.length !== 1) {
      return bad(path, kinds.length === 0 ? `must have one of ${NODE_KEYS.join(', ')}` : `has both "${kinds[0]}" and "${kinds[1]}"; use one per node`);
    }
    const kind = kinds[0];
    const allowed: string[] = kind === 'trait' || kind === 'device' || kind === 'topic' ? [kind, 'op', 'value'] : [kind];
    for (const key of Object.keys(node)) if (!allowed.includes(key)) bad(`${path}.${key}`, `unknown key "${key}" in a "${kind}" node`);

    switch (kind) {
      case 'all':
      case 'any': {
        const list = node[kind];
        if (!Array.isArray(list)) return bad(`${path}.${kind}`, 'must be an array of nodes');
        list.forEach((child, i) => visit(child, `${path}.${kind}[${i}]`, depth + 1));
        return;
      }
      case 'not':
        return visit(node.not, `${path}.not`, depth + 1);
      case 'eligibleDevice':
        if (node.eligibleDevice !== true) bad(`${path}.eligibleDevice`, 'must be true');
        return;
      case 'trait': {
        const name = node.trait;
        if (typeof name !== 'string' || name.length === 0 || name.length > RULE_LIMITS.maxNameLength) {
          bad(`${path}.trait`, `must be a trait name (1 to ${RULE_LIMITS.maxNameLength} characters)`);
        }
        return condition(node, path, 'trait', OPS_BY_KIND.trait);
      }
      case 'topic':
        if (typeof node.topic !== 'string' || !TOPIC_NAME.test(node.topic)) bad(`${path}.topic`, 'must be a topic name (1 to 64 letters, digits, _ or -)');
        return condition(node, path, 'topic', OPS_BY_KIND.topic);
      case 'device': {
        const attr = node.device;
        if (typeof attr !== 'string' || !(attr in DeviceAttributes)) {
          return bad(`${path}.device`, `unknown device attribute ${show(attr)}; expected one of ${Object.keys(DeviceAttributes).join(', ')}`);
        }
        const spec = DeviceAttributes[attr as DeviceAttribute];
        return condition(node, path, spec.kind, OPS_BY_KIND[spec.kind], 'values' in spec ? spec.values : undefined);
      }
    }
  };

  const condition = (node: Record<string, unknown>, path: string, kind: Kind | 'trait' | 'topic', ops: readonly Operator[], enumValues?: readonly string[]): void => {
    const op = node.op;
    const subject = kind === 'trait' ? 'a trait' : kind === 'topic' ? 'a topic' : `device attribute "${String(node.device)}"`;
    if (typeof op !== 'string' || !(Operators as readonly string[]).includes(op)) {
      return bad(`${path}.op`, `unknown operator ${show(op)}; expected one of ${Operators.join(', ')}`);
    }
    if (!ops.includes(op as Operator)) return bad(`${path}.op`, `"${op}" does not apply to ${subject}; use one of ${ops.join(', ')}`);
    const has = 'value' in node;
    const value = node.value;
    const vpath = `${path}.value`;
    const checkOne = (v: unknown, where: string): void => {
      if (enumValues) {
        if (typeof v !== 'string' || !enumValues.includes(v)) bad(where, `must be one of ${enumValues.join(', ')}; got ${show(v)}`);
      } else if (kind === 'boolean' || kind === 'topic') {
        if (typeof v !== 'boolean') bad(where, `must be true or false; got ${show(v)}`);
      } else if (kind === 'text' || kind === 'version') {
        if (typeof v !== 'string') bad(where, `must be a string; got ${show(v)}`);
      } else if (!isScalar(v)) {
        bad(where, `must be a string, number, boolean or null; got ${show(v)}`);
      }
    };
    switch (op as Operator) {
      case 'exists':
        if (has && typeof value !== 'boolean') bad(vpath, 'must be true or false (or left out, meaning true)');
        return;
      case 'in':
        if (!Array.isArray(value) || value.length === 0 || value.length > RULE_LIMITS.maxInValues) {
          return bad(vpath, `must be a non-empty array (at most ${RULE_LIMITS.maxInValues} values)`);
        }
        value.forEach((v, i) => checkOne(v, `${vpath}[${i}]`));
        return;
      case 'within_days':
      case 'older_than_days':
        if (typeof value !== 'number' || !(value > 0) || value > RULE_LIMITS.maxDays) bad(vpath, `must be a number of days, above 0 and at most ${RULE_LIMITS.maxDays}`);
        return;
      case 'semver_lt':
      case 'semver_gte':
        if (typeof value !== 'string' || versionSortKey(value) === null) bad(vpath, `must be a version like "2.4.0"; got ${show(value)}`);
        return;
      case 'contains':
        if (kind === 'trait' ? !isScalar(value) || value === null : typeof value !== 'string' || value.length === 0) {
          bad(vpath, kind === 'trait' ? `must be a string (substring) or a number or boolean (array element); got ${show(value)}` : `must be a non-empty string; got ${show(value)}`);
        }
        return;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        if (kind === 'date') {
          if (!isIsoDate(value)) bad(vpath, `must be an ISO-8601 date; got ${show(value)}`);
        } else if (kind === 'version') {
          if (typeof value !== 'string' || versionSortKey(value) === null) bad(vpath, `must be a version like "2.4.0"; got ${show(value)}`);
        } else if (typeof value !== 'string' && typeof value !== 'number') {
          bad(vpath, `must be a string or a number; got ${show(value)}`);
        } else if (kind === 'text' && typeof value !== 'string') {
          bad(vpath, `must be a string; got ${show(value)}`);
        }
        return;
      case 'eq':
      case 'ne':
        if (!has) return bad(vpath, 'is required');
        checkOne(value, vpath);
        return;
    }
  };

  visit(input, root, 1);
  if (issues.length) throw new SegmentRulesError(issues);
  return input as SegmentRule;
}
