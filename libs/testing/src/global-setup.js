// Brings the local engines up once per Jest run (idempotent). `npm test` already did it; this
// covers `npx jest --selectProjects integration` run by hand.
const { execFileSync } = require('child_process');
const path = require('path');

module.exports = async function globalSetup() {
  if (process.env.PUSHLEDGER_INFRA_UP === '1') return;
  if (process.env.PUSHLEDGER_EXTERNAL_ENGINES === '1') return;
  execFileSync('bash', [path.join(__dirname, '../../../deploy/local/infra.sh'), 'up'], { stdio: 'inherit' });
  process.env.PUSHLEDGER_INFRA_UP = '1';
};
