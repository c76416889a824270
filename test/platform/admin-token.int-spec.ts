import { freePort, startService } from '@pushledger/testing';

describe('a configured admin token shorter than 32 characters', () => {
  it('stops the service before it starts, with one line saying why and not repeating the token', async () => {
    const token = 'too-short-token-1234';
    const proc = startService('gateway', { PORT: String(await freePort()), PUSHLEDGER_ADMIN_TOKEN: token });
    expect(await proc.exited).toBe(2);
    const lines = proc.logs().trim().split('\n');
    expect(lines).toEqual(['gateway: invalid configuration: PUSHLEDGER_ADMIN_TOKEN: must be at least 32 characters (e.g. openssl rand -base64 32)']);
    expect(proc.logs()).not.toContain(token);
  });
});
