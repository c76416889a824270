import { loadConfig } from '@pushledger/config';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { generateAdminToken } = require('../../scripts/admin-token.js') as { generateAdminToken: () => string };

describe('the admin token npm start generates', () => {
  it('passes the length the services require, and differs each time', () => {
    const tokens = Array.from({ length: 50 }, () => generateAdminToken());
    for (const token of tokens) expect(loadConfig({ PUSHLEDGER_ADMIN_TOKEN: token }).adminToken).toBe(token);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
