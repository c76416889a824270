import { jsonDepth, MAX_JSON_DEPTH, rejectDeepJson } from './json-depth';
import { ApiError } from './api-error';

const nested = (n: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { k: v };
  return v;
};

describe('JSON depth', () => {
  it('counts objects and arrays, not scalars', () => {
    expect(jsonDepth('x')).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth({ a: [1, { b: 2 }], c: 3 })).toBe(3);
    expect(jsonDepth(nested(10_000))).toBe(10_000);
  });

  it('passes a body at the limit and refuses one past it with body_too_deep', () => {
    const run = (body: unknown) => {
      let passed: unknown = 'not called';
      rejectDeepJson({ body } as never, {} as never, (err?: unknown) => (passed = err));
      return passed;
    };
    expect(run(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(run(undefined)).toBeUndefined();
    const err = run(nested(MAX_JSON_DEPTH + 1));
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).body()).toMatchObject({ error: { code: 'body_too_deep' } });
  });
});
