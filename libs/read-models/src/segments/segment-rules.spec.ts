import { compileRules, segmentFilter } from './compile-rules';
import { SegmentRulesError, validateRules, type SegmentRule } from './segment-rules';

const ctx = { now: new Date('2025-06-01T00:00:00.000Z'), staleAfterDays: 60 };
const issuesOf = (input: unknown): { path: string; reason: string }[] => {
  try {
    validateRules(input);
  } catch (err) {
    expect(err).toBeInstanceOf(SegmentRulesError);
    return (err as SegmentRulesError).issues;
  }
  throw new Error('expected the rules to be rejected');
};
const messageOf = (input: unknown): string => {
  try {
    validateRules(input);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the rules to be rejected');
};

describe('segment rules: validation names the bad part', () => {
  it('accepts every node kind, nested', () => {
    const rules = {
      all: [
        { trait: 'plan', op: 'eq', value: 'pro' },
        { any: [{ device: 'platform', op: 'in', value: ['ios', 'web'] }, { not: { device: 'appVersion', op: 'semver_lt', value: '2.0' } }] },
        { device: 'lastSeenAt', op: 'within_days', value: 7 },
        { trait: 'email', op: 'exists' },
        { eligibleDevice: true },
      ],
    };
    expect(validateRules(rules)).toBe(rules);
    expect(validateRules({ all: [] })).toEqual({ all: [] });
  });

  it.each([
    [{ all: [{ trait: 'plan', op: 'eq', value: 'x' }, { trait: 'a', op: 'eq', value: 1 }, { trait: 'plan', op: 'equals', value: 'x' }] }, 'rules.all[2].op', /unknown operator "equals"/],
    [{ any: [{ device: 'colour', op: 'eq', value: 'red' }] }, 'rules.any[0].device', /unknown device attribute "colour"/],
    [{ device: 'platform', op: 'eq', value: 'blackberry' }, 'rules.value', /must be one of android, ios, web/],
    [{ device: 'platform', op: 'gt', value: 'ios' }, 'rules.op', /"gt" does not apply to device attribute "platform"/],
    [{ device: 'model', op: 'semver_lt', value: '1.0' }, 'rules.op', /does not apply/],
    [{ device: 'appVersion', op: 'semver_gte', value: 'latest' }, 'rules.value', /must be a version/],
    [{ device: 'lastSeenAt', op: 'within_days', value: -3 }, 'rules.value', /number of days/],
    [{ device: 'registeredAt', op: 'gt', value: 'yesterday' }, 'rules.value', /ISO-8601 date/],
    [{ device: 'pushEnabled', op: 'eq', value: 'yes' }, 'rules.value', /true or false/],
    [{ trait: 'plan', op: 'in', value: [] }, 'rules.value', /non-empty array/],
    [{ trait: 'plan', op: 'in', value: ['a', { b: 1 }] }, 'rules.value[1]', /string, number, boolean or null/],
    [{ trait: 'plan', op: 'eq' }, 'rules.value', /is required/],
    [{ trait: '', op: 'exists' }, 'rules.trait', /trait name/],
    [{ trait: 'plan', op: 'exists', value: 'yes' }, 'rules.value', /true or false/],
    [{ trait: 'plan', op: 'eq', value: 'x', extra: 1 }, 'rules.extra', /unknown key "extra"/],
    [{ not: { all: {} } }, 'rules.not.all', /array of nodes/],
    [{ all: [{ trait: 'plan', op: 'eq', value: 'x', all: [] }] }, 'rules.all[0]', /has both "all" and "trait"/],
    [{ eligibleDevice: 'yes' }, 'rules.eligibleDevice', /must be true/],
    [{ topic: 'a.b', op: 'eq', value: false }, 'rules.topic', /topic name/],
    [{ topic: 'news', op: 'gt', value: 1 }, 'rules.op', /"gt" does not apply to a topic; use one of eq, ne, exists/],
    [{ topic: 'news', op: 'eq', value: 'off' }, 'rules.value', /true or false/],
    [{}, 'rules', /must have one of/],
    ['plan = pro', 'rules', /must be an object/],
    [{ all: [null] }, 'rules.all[0]', /must be an object/],
  ])('%j → %s', (input, path, reason) => {
    const issues = issuesOf(input);
    expect(issues[0].path).toBe(path);
    expect(issues[0].reason).toMatch(reason);
    expect(messageOf(input).startsWith(`${path}: `)).toBe(true);
  });

  it('reports several issues at once', () => {
    const issues = issuesOf({ all: [{ trait: 'a', op: 'nope' }, { device: 'x', op: 'eq', value: 1 }] });
    expect(issues.map((i) => i.path)).toEqual(['rules.all[0].op', 'rules.all[1].device']);
  });

  it('limits depth and size', () => {
    let deep: unknown = { trait: 'a', op: 'exists' };
    for (let i = 0; i < 20; i++) deep = { not: deep };
    expect(issuesOf(deep)[0].reason).toMatch(/nested too deep/);
    const wide = { any: Array.from({ length: 600 }, () => ({ trait: 'a', op: 'exists' })) };
    expect(issuesOf(wide)[0].reason).toMatch(/too many nodes/);
  });
});

describe('segment rules: compiled to one-field conditions on user documents', () => {
  const compile = (rule: unknown) => compileRules(validateRules(rule), ctx);

  it('trait operators', () => {
    expect(compile({ trait: 'plan', op: 'eq', value: 'pro' })).toEqual({ 'traits.plan': 'pro' });
    expect(compile({ trait: 'plan', op: 'ne', value: 'pro' })).toEqual({ 'traits.plan': { $ne: 'pro' } });
    expect(compile({ trait: 'age', op: 'gt', value: 30 })).toEqual({ 'traits.age': { $gt: 30 } });
    expect(compile({ trait: 'age', op: 'gte', value: 30 })).toEqual({ 'traits.age': { $gte: 30 } });
    expect(compile({ trait: 'age', op: 'lt', value: 30 })).toEqual({ 'traits.age': { $lt: 30 } });
    expect(compile({ trait: 'age', op: 'lte', value: 30 })).toEqual({ 'traits.age': { $lte: 30 } });
    expect(compile({ trait: 'plan', op: 'in', value: ['a', 'b'] })).toEqual({ 'traits.plan': { $in: ['a', 'b'] } });
    expect(compile({ trait: 'email', op: 'exists' })).toEqual({ 'traits.email': { $exists: true } });
    expect(compile({ trait: 'email', op: 'exists', value: false })).toEqual({ 'traits.email': { $exists: false } });
    expect(compile({ trait: 'name', op: 'contains', value: 'a.b' })).toEqual({ 'traits.name': { $regex: 'a\\.b' } });
    expect(compile({ trait: 'tags', op: 'contains', value: 7 })).toEqual({ 'traits.tags': { $elemMatch: { $eq: 7 } } });
    expect(compile({ trait: 'signedUpAt', op: 'within_days', value: 10 })).toEqual({ 'traits.signedUpAt': { $gte: '2025-05-22T00:00:00.000Z' } });
    expect(compile({ trait: 'signedUpAt', op: 'older_than_days', value: 1 })).toEqual({ 'traits.signedUpAt': { $lt: '2025-05-31T00:00:00.000Z' } });
    // Trait names are encoded like the stored keys.
    expect(compile({ trait: 'name.first', op: 'eq', value: 'Ann' })).toEqual({ 'traits.name%2Efirst': 'Ann' });
    expect(compile({ trait: '$x', op: 'exists' })).toEqual({ 'traits.%24x': { $exists: true } });
  });

  it('device operators: "one of the devices" without $elemMatch, negations spelled positively', () => {
    expect(compile({ device: 'platform', op: 'eq', value: 'ios' })).toEqual({ 'devices.platform': 'ios' });
    expect(compile({ device: 'platform', op: 'ne', value: 'ios' })).toEqual({ 'devices.platform': { $in: ['android', 'web'] } });
    expect(compile({ device: 'pushEnabled', op: 'ne', value: true })).toEqual({ $or: [{ 'devices.pushEnabled': false }, { 'devices.pushEnabled': { $type: 'null' } }] });
    expect(compile({ device: 'locale', op: 'ne', value: 'fr' })).toEqual({ $or: [{ 'devices.locale': { $lt: 'fr' } }, { 'devices.locale': { $gt: 'fr' } }, { 'devices.locale': { $type: 'null' } }] });
    expect(compile({ device: 'model', op: 'exists' })).toEqual({ 'devices.model': { $type: 'string' } });
    expect(compile({ device: 'pushEnabled', op: 'exists' })).toEqual({ 'devices.pushEnabled': { $type: 'bool' } });
    expect(compile({ device: 'model', op: 'exists', value: false })).toEqual({ 'devices.model': { $type: 'null' } });
    expect(compile({ device: 'model', op: 'contains', value: 'Pix' })).toEqual({ 'devices.model': { $regex: 'Pix' } });
    expect(compile({ device: 'lastStatus', op: 'in', value: ['sent'] })).toEqual({ 'devices.lastStatus': { $in: ['sent'] } });
    expect(compile({ device: 'lastSeenAt', op: 'within_days', value: 7 })).toEqual({ 'devices.lastSeenAt': { $gte: '2025-05-25T00:00:00.000Z' } });
    expect(compile({ device: 'registeredAt', op: 'older_than_days', value: 30 })).toEqual({ 'devices.registeredAt': { $lt: '2025-05-02T00:00:00.000Z' } });
    expect(compile({ device: 'registeredAt', op: 'gte', value: '2025-01-01' })).toEqual({ 'devices.registeredAt': { $gte: '2025-01-01T00:00:00.000Z' } });
  });

  it('topics: a topic never set counts as on', () => {
    expect(compile({ topic: 'news', op: 'eq', value: true })).toEqual({ 'topics.news': { $ne: false } });
    expect(compile({ topic: 'news', op: 'ne', value: false })).toEqual({ 'topics.news': { $ne: false } });
    expect(compile({ topic: 'news', op: 'eq', value: false })).toEqual({ 'topics.news': false });
    expect(compile({ topic: 'news', op: 'ne', value: true })).toEqual({ 'topics.news': false });
    expect(compile({ topic: 'news', op: 'exists' })).toEqual({ 'topics.news': { $exists: true } });
    expect(compile({ topic: 'news', op: 'exists', value: false })).toEqual({ 'topics.news': { $exists: false } });
  });

  it('versions compare as versions (semver ops and gt/lt alike)', () => {
    expect(compile({ device: 'appVersion', op: 'semver_lt', value: '2.0' })).toEqual({ 'devices.appVersionSort': { $lt: '00000002.00000000.00000000.00000000~' } });
    expect(compile({ device: 'osVersion', op: 'semver_gte', value: '17.4' })).toEqual({ 'devices.osVersionSort': { $gte: '00000017.00000004.00000000.00000000~' } });
    expect(compile({ device: 'appVersion', op: 'gt', value: '1.10.0' })).toEqual({ 'devices.appVersionSort': { $gt: '00000001.00000010.00000000.00000000~' } });
    expect(compile({ device: 'appVersion', op: 'eq', value: '2.1.0' })).toEqual({ 'devices.appVersion': '2.1.0' });
  });

  it('nesting, empty groups and eligibleDevice', () => {
    expect(compile({ all: [] })).toEqual({});
    expect(compile({ any: [] })).toEqual({ _id: { $in: [] } });
    expect(compile({ all: [{ trait: 'a', op: 'exists' }] })).toEqual({ 'traits.a': { $exists: true } });
    expect(compile({ not: { any: [{ trait: 'a', op: 'eq', value: 1 }, { device: 'platform', op: 'eq', value: 'web' }] } })).toEqual({
      $nor: [{ $or: [{ 'traits.a': 1 }, { 'devices.platform': 'web' }] }],
    });
    expect(compile({ eligibleDevice: true })).toEqual({ unsubscribed: false, 'devices.reachableSeenAt': { $gt: '2025-04-02T00:00:00.000Z' } });
  });

  it('the whole query keeps the tenant and "not erased" at the top, where FerretDB pushes them down', () => {
    const rule: SegmentRule = { trait: 'plan', op: 'eq', value: 'pro' };
    expect(segmentFilter('app_1', rule, ctx)).toEqual({ appId: 'app_1', erased: false, $and: [{ 'traits.plan': 'pro' }] });
    expect(segmentFilter('app_1', null, ctx)).toEqual({ appId: 'app_1', erased: false });
    expect(segmentFilter('app_1', { all: [] }, ctx)).toEqual({ appId: 'app_1', erased: false });
  });
});
