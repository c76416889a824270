import { readFileSync } from 'fs';
import { join } from 'path';

describe('docker-compose.yml', () => {
  it('takes the admin token from the environment, with no default to fall back on', () => {
    const compose = readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8');
    const lines = compose.split('\n').filter((l) => /^\s*PUSHLEDGER_ADMIN_TOKEN\s*:/.test(l));
    expect(lines).toHaveLength(1);
    // `${VAR:?message}` stops `docker compose` with the message when VAR is unset or empty.
    expect(lines[0].trim()).toMatch(/^PUSHLEDGER_ADMIN_TOKEN: \$\{PUSHLEDGER_ADMIN_TOKEN:\?[^}]+\}$/);
  });

  it('takes the key sealing app credentials from the environment, with no default either', () => {
    const compose = readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8');
    const lines = compose.split('\n').filter((l) => /^\s*PUSHLEDGER_SECRET_KEY\s*:/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0].trim()).toMatch(/^PUSHLEDGER_SECRET_KEY: \$\{PUSHLEDGER_SECRET_KEY:\?[^}]+\}$/);
  });
});
