import { createHmac } from 'crypto';
import { identitySecretHash, newIdentitySecret } from '@pushledger/contracts';
import { segmentTenant, SegmentTenantLookup } from './segment-tenant';

type App = { id: string; settings: { identityVerification?: boolean } };
const apps = { wk_a: { id: 'app_a', settings: {} }, wk_b: { id: 'app_b', settings: {} } } as Record<string, App>;
const lookup: SegmentTenantLookup<App> = {
  byWriteKey: async (key) => apps[key],
  byId: async (id) => Object.values(apps).find((a) => a.id === id),
};
const tenant = (body: unknown, appId: string | undefined, trustAppId: boolean) => segmentTenant(body, { appId, trustAppId }, lookup);

describe("an ingest message's app", () => {
  it("is its write key's", async () => {
    for (const trust of [false, true]) {
      expect(await tenant({ writeKey: 'wk_a' }, undefined, trust)).toEqual({ app: apps.wk_a });
      expect(await tenant({ writeKey: 'wk_a' }, 'app_a', trust)).toEqual({ app: apps.wk_a });
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
    expect(await tenant({ type: 'track' }, 'app_a', true)).toEqual({ app: apps.wk_a });
    expect(await tenant({ type: 'track' }, 'app_nope', true)).toMatchObject({ reason: 'unknown_app' });
  });

  it('is refused without a write key or a header, and for a body that is not an object', async () => {
    for (const body of [{ type: 'track' }, { writeKey: '' }, { writeKey: 42 }, [1, 2], null, 'wk_a']) {
      expect(await tenant(body, undefined, true)).toMatchObject({ reason: 'write_key_required' });
    }
  });

  it("is refused when the write key's app verifies identities and the userId comes without its hash; a trusted header needs none", async () => {
    const secret = newIdentitySecret();
    const verifying: App & { identitySecretHash: string } = { id: 'app_v', settings: { identityVerification: true }, identitySecretHash: identitySecretHash(secret) };
    const byKey: SegmentTenantLookup<App> = { byWriteKey: async (key) => (key === 'wk_v' ? verifying : undefined), byId: async (id) => (id === 'app_v' ? verifying : undefined) };
    const message = { type: 'identify', userId: 'user-1', anonymousId: 'dev-1' };
    const userHash = createHmac('sha256', secret).update('user-1').digest('hex');
    expect(await segmentTenant({ ...message, writeKey: 'wk_v' }, { trustAppId: false }, byKey)).toMatchObject({ reason: 'user_hash_invalid' });
    expect(await segmentTenant({ ...message, writeKey: 'wk_v', userHash: 'f'.repeat(64) }, { trustAppId: false }, byKey)).toMatchObject({ reason: 'user_hash_invalid' });
    expect(await segmentTenant({ ...message, writeKey: 'wk_v', userHash }, { trustAppId: false }, byKey)).toEqual({ app: verifying });
    expect(await segmentTenant(message, { appId: 'app_v', trustAppId: true }, byKey)).toEqual({ app: verifying });
  });
});
