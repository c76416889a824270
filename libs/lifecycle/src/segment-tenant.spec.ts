import { segmentTenant, SegmentTenantLookup } from './segment-tenant';

const apps = { wk_a: { id: 'app_a' }, wk_b: { id: 'app_b' } } as Record<string, { id: string }>;
const lookup: SegmentTenantLookup<{ id: string }> = {
  byWriteKey: async (key) => apps[key],
  byId: async (id) => Object.values(apps).find((a) => a.id === id),
};
const tenant = (body: unknown, appId: string | undefined, trustAppId: boolean) => segmentTenant(body, { appId, trustAppId }, lookup);

describe("an ingest message's app", () => {
  it("is its write key's", async () => {
    for (const trust of [false, true]) {
      expect(await tenant({ writeKey: 'wk_a' }, undefined, trust)).toEqual({ app: { id: 'app_a' } });
      expect(await tenant({ writeKey: 'wk_a' }, 'app_a', trust)).toEqual({ app: { id: 'app_a' } });
    }
  });

  it("is refused when the app-id header names another app than the write key's, trusted or not", async () => {
    for (const trust of [false, true]) {
      expect(await tenant({ writeKey: 'wk_a' }, 'app_b', trust)).toMatchObject({ reason: 'app_id_mismatch' });
    }
  });

  it('is refused for a write key of no app', async () => {
    expect(await tenant({ writeKey: 'wk_zzz' }, 'app_a', true)).toMatchObject({ reason: 'unknown_key' });
  });

  it('comes from an app-id header alone only where the header is trusted', async () => {
    const refused = await tenant({ type: 'track' }, 'app_a', false);
    expect(refused).toMatchObject({ reason: 'write_key_required' });
    expect((refused as { message: string }).message).toMatch(/INGEST_TRUST_APP_ID_HEADER/);
    expect(await tenant({ type: 'track' }, 'app_a', true)).toEqual({ app: { id: 'app_a' } });
    expect(await tenant({ type: 'track' }, 'app_nope', true)).toMatchObject({ reason: 'unknown_app' });
  });

  it('is refused without a write key or a header, and for a body that is not an object', async () => {
    for (const body of [{ type: 'track' }, { writeKey: '' }, { writeKey: 42 }, [1, 2], null, 'wk_a']) {
      expect(await tenant(body, undefined, true)).toMatchObject({ reason: 'write_key_required' });
    }
  });
});
