import { deviceIdFromToken } from '@pushledger/lifecycle';
import { api, startStack, Stack, TestApp, waitFor } from '@pushledger/testing';

describe('Masivo device-token API', () => {
  let stack: Stack;
  let app: TestApp;
  beforeAll(async () => {
    stack = await startStack();
    app = await stack.createApp();
  });
  afterAll(async () => {
    if (process.env.DEBUG_STACK) console.log(stack?.logs());
    await stack?.stop();
  });

  it('PATCH registers the FCM token for the customer and answers with the device view (token masked)', async () => {
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const token = `masivo-${Date.now()}:APA91bGx1b2FsX3Rva2VuX2Zvcl9tYXNpdm8`;
    const deviceId = deviceIdFromToken(token);

    const res = await write.patch('/v1/customers/cust-1001/device-token', { device_token: token, device_info: { platform: 'android', model: 'Pixel 8', osVersion: '14' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: deviceId, appId: app.id, userId: 'cust-1001', platform: 'android', provider: 'fcm', model: 'Pixel 8', osVersion: '14', status: 'active', lastStatus: 'unused' });
    expect(res.body.token).not.toContain(token);

    // A refresh of the same token with new device info updates the device.
    const again = await write.patch('/v1/customers/cust-1001/device-token', { device_token: token, device_info: { platform: 'android', model: 'Pixel 8', osVersion: '15' } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: deviceId, osVersion: '15', userId: 'cust-1001' });

    expect((await server.get(`/v1/devices/${deviceId}`)).body).toMatchObject({ userId: 'cust-1001', osVersion: '15' });
    const history = (await server.get(`/v1/devices/${deviceId}/events`)).body as { type: string }[];
    expect(history.map((e) => e.type)).toEqual(['TokenRegistered', 'Identified', 'DeviceAttributesUpdated']);
    expect(JSON.stringify(history)).not.toContain(token);

    await waitFor(async () => {
      const devices = await server.get('/v1/users/cust-1001/devices');
      return devices.status === 200 && devices.body.length === 1 && devices.body[0].id === deviceId;
    }, { what: 'the customer to list the device' });

    // Another customer signs in on the same device: the token moves with the device.
    const moved = await write.patch('/v1/customers/cust-2002/device-token', { device_token: token, device_info: { platform: 'android', model: 'Pixel 8', osVersion: '15' } });
    expect(moved.body.userId).toBe('cust-2002');
  });

  it('rejects bad bodies with a 400 naming the field', async () => {
    const write = api(stack.url, app.writeKey);
    const cases: [unknown, string][] = [
      [{ device_info: { platform: 'ios' } }, 'device_token'],
      [{ device_token: 'tok-abcdefghijklmnop', device_info: { platform: 'symbian' } }, 'device_info.platform'],
      [{ device_token: 'tok-abcdefghijklmnop' }, 'device_info'],
      [{ device_token: 'tok-abcdefghijklmnop', device_info: { platform: 'web', model: 'x'.repeat(200) } }, 'device_info.model'],
    ];
    for (const [body, field] of cases) {
      const res = await write.patch('/v1/customers/cust-1/device-token', body);
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const badId = await write.patch(`/v1/customers/${'x'.repeat(300)}/device-token`, { device_token: 'tok-abcdefghijklmnop', device_info: { platform: 'web' } });
    expect(badId.status).toBe(400);
    expect(badId.body.error.details[0].field).toBe('customerId');
  });
});
