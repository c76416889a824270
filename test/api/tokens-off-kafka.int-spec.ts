import { topicsFor } from '@pushledger/contracts';
import { api, openedValue, scanTopics, startStack, Stack } from '@pushledger/testing';

/**
 * What the gateway and the owners say to each other over Kafka: values sealed with the secret key, replies
 * carrying masked views even when opened, and no message key naming a token or a user.
 */
describe('tokens and user ids on the command and reply topics', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(['gateway', 'registration', 'identity', 'relay', 'projector']);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('after registrations through every API, identify, logout, reads and exports, no message shows a token or a user id, and no opened reply a whole token', async () => {
    const app = await stack.createApp({}, 'tokens');
    const write = api(stack.url, app.writeKey);
    const server = api(stack.url, app.serverKey);
    const stamp = Date.now();
    const tokens = {
      native: `native-${stamp}:${'a'.repeat(40)}`,
      byToken: `bytoken-${stamp}:${'b'.repeat(40)}`,
      twilio: `twilio-${stamp}:${'c'.repeat(40)}`,
      masivo: `masivo-${stamp}:${'d'.repeat(40)}`,
      customerio: `custio-${stamp}:${'e'.repeat(40)}`,
    };
    const users = { native: `ursula-${stamp}`, masivo: `cust-${stamp}`, customerio: `cio-${stamp}` };
    const reg = await write.post('/v1/devices', { token: tokens.native, provider: 'fcm', platform: 'android', userId: users.native });
    expect(reg.status).toBe(201);
    expect(reg.body.token).not.toBe(tokens.native);
    expect((await write.post('/v1/devices', { token: tokens.byToken, provider: 'fcm', platform: 'ios' })).status).toBe(201);
    expect((await write.post('/v1/identify', { token: tokens.byToken, userId: users.native })).status).toBeLessThan(300);
    expect((await write.post('/v1/PushNotifications/DeviceRegistrations', { token: tokens.twilio, appName: 'tokens', provider: 'FCM' })).status).toBe(201);
    expect((await write.patch(`/v1/customers/${users.masivo}/device-token`, { device_token: tokens.masivo, device_info: { platform: 'android', model: 'Pixel 8', osVersion: '14' } })).status).toBeLessThan(300);
    expect((await write.put(`/api/v1/customers/${users.customerio}/devices`, { device: { id: tokens.customerio, platform: 'android' } })).status).toBeLessThan(300);
    expect((await server.get(`/v1/devices/${reg.body.id}`)).status).toBe(200);
    expect((await server.get(`/v1/devices/${reg.body.id}/events`)).status).toBe(200);
    expect((await server.get(`/v1/users/${users.native}/export`)).status).toBe(200);
    expect((await write.post('/v1/logout', { token: tokens.byToken })).status).toBeLessThan(300);

    const topics = topicsFor(stack.suffix);
    const messages = await scanTopics(stack.suffix, (t) => [topics.commandReplies, topics.registrationCommands, topics.identityCommands].includes(t));
    const replies = messages.filter((m) => m.topic === topics.commandReplies);
    const commands = messages.filter((m) => m.topic !== topics.commandReplies);
    expect(replies.length).toBeGreaterThan(10);
    expect(commands.length).toBeGreaterThan(5);
    // As they travel: sealed, so neither a token nor a user id is readable in any key, value or header.
    for (const secret of [...Object.values(tokens), ...Object.values(users)]) {
      expect(messages.filter((m) => m.key.includes(secret) || m.value.includes(secret) || m.headers.includes(secret))).toEqual([]);
    }
    // Opened with the secret key: commands carry the token to its owner; replies hold masked views only.
    const openedCommands = commands.map((m) => JSON.stringify(openedValue(stack.env, m.value)));
    const openedReplies = replies.map((m) => JSON.stringify(openedValue(stack.env, m.value, 'reply')));
    expect(openedCommands.some((v) => v.includes(tokens.native) && v.includes(users.native))).toBe(true);
    for (const token of Object.values(tokens)) expect(openedReplies.filter((v) => v.includes(token))).toEqual([]);
    expect(openedReplies.some((v) => v.includes(tokens.native.slice(0, 6)))).toBe(true);
  });
});
