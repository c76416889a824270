// Supervises the services of a local Pushledger: starts each one, waits for its /health, prints how
// to reach the gateway, and stops them all on Ctrl-C. Services that exit are restarted.
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { generateAdminToken } = require('./admin-token');

const root = path.resolve(__dirname, '..');
const dataDir = process.env.PUSHLEDGER_DATA_DIR || path.join(root, '.data');
fs.mkdirSync(dataDir, { recursive: true });
const tokenFile = path.join(dataDir, 'admin-token');
const adminToken = process.env.PUSHLEDGER_ADMIN_TOKEN
  || (fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : '');
const token = adminToken || generateAdminToken();
if (!adminToken) fs.writeFileSync(tokenFile, token, { mode: 0o600 });

// The key sealing app credentials: kept in the data folder, so credentials sealed by an earlier run still open.
const secretKeyFile = path.join(dataDir, 'secret-key');
const keyGiven = Boolean(process.env.PUSHLEDGER_SECRET_KEY || process.env.PUSHLEDGER_SECRET_KEY_FILE);
if (!keyGiven && !fs.existsSync(secretKeyFile)) fs.writeFileSync(secretKeyFile, require('crypto').randomBytes(32).toString('base64'), { mode: 0o600 });

const port = Number(process.env.PORT || 3000);
const env = { ...process.env, PUSHLEDGER_ADMIN_TOKEN: token, PORT: String(port), ...(keyGiven ? {} : { PUSHLEDGER_SECRET_KEY_FILE: secretKeyFile }) };
// The services would refuse a bad configuration one by one, and be restarted forever: refuse it once, here.
try {
  require(path.join(root, 'dist/libs/config/src/config.js')).loadConfig(env);
} catch (err) {
  console.error(`[start] ${err.message}`);
  process.exit(2);
}
const logDir = path.join(dataDir, 'logs');
fs.mkdirSync(logDir, { recursive: true });

const entries = [
  ['registration', 'dist/services/registration/src/main.js', port + 101],
  ['identity', 'dist/services/identity/src/main.js', port + 102],
  ['campaign', 'dist/services/campaign/src/main.js', port + 103],
  ['delivery', 'dist/services/delivery/src/main.js', port + 104],
  ['gateway', 'dist/services/gateway/src/main.js', port],
  ...(fs.existsSync(path.join(root, 'dist/tools/relay/main.js')) ? [['relay', 'dist/tools/relay/main.js', null]] : []),
  ...(fs.existsSync(path.join(root, 'dist/tools/projector/main.js')) ? [['projector', 'dist/tools/projector/main.js', null]] : []),
];
const children = new Map();
let stopping = false;

function start([name, entry]) {
  const out = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [path.join(root, 'scripts/run.js'), entry], { cwd: root, env, stdio: ['ignore', out, out] });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[start] ${name} exited (${signal || code}); restarting in 1 s (log: ${path.join(logDir, name + '.log')})`);
    setTimeout(() => start([name, entry]), 1000);
  });
}

async function healthy(p) {
  try {
    const res = await fetch(`http://127.0.0.1:${p}/health`);
    return res.status === 200;
  } catch {
    return false;
  }
}

// Apps without Firebase, APNs or VAPID credentials send to a local simulator, so a fresh install can push end to end.
async function startSimulator(name, entry, what) {
  const child = spawn(process.execPath, [path.join(root, 'scripts/run.js'), entry, '--cert-dir', path.join(dataDir, name)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.set(name, child);
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (b) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`the ${what} simulator exited (${code})`)));
  });
  return JSON.parse(line);
}

async function startSimulators() {
  const fcm = await startSimulator('fcm-simulator', 'dist/tools/fcm-simulator/main.js', 'FCM');
  env.PUSHLEDGER_FCM_SIMULATOR_URL = fcm.url;
  env.PUSHLEDGER_FCM_SIMULATOR_CA_FILE = fcm.caFile;
  const apns = await startSimulator('apns-simulator', 'dist/tools/apns-simulator/main.js', 'APNs');
  env.PUSHLEDGER_APNS_SIMULATOR_URL = apns.url;
  env.PUSHLEDGER_APNS_SIMULATOR_CA_FILE = apns.caFile;
  env.PUSHLEDGER_APNS_SIMULATOR_KEY_FILE = apns.keyFile;
  const webpush = await startSimulator('webpush-simulator', 'dist/tools/webpush-simulator/main.js', 'Web Push');
  env.PUSHLEDGER_WEBPUSH_SIMULATOR_CA_FILE = webpush.caFile;
  env.PUSHLEDGER_WEBPUSH_SIMULATOR_VAPID_FILE = webpush.vapidFile;
  return { fcm: fcm.url, apns: apns.url, webpush: webpush.url };
}

async function main() {
  const sims = await startSimulators();
  for (const e of entries) start(e);
  const deadline = Date.now() + 120000;
  for (const [name, , p] of entries) {
    if (p === null) continue;
    while (!(await healthy(p))) {
      if (Date.now() > deadline) {
        console.error(`[start] ${name} did not become healthy; see ${path.join(logDir, name + '.log')}`);
        process.exitCode = 1;
        return shutdown();
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  const url = `http://127.0.0.1:${port}`;
  console.log(`Pushledger is running.\n  gateway:     ${url}\n  health:      ${url}/health\n  API docs:    ${url}/docs\n  admin token: ${token}\n  FCM sim:     ${sims.fcm} (apps without Firebase credentials send here)\n  APNs sim:    ${sims.apns} (apps without APNs credentials send here)\n  WebPush sim: ${sims.webpush} (POST /subscriptions makes a subscription; apps without VAPID keys sign with its stand-in keys)\n  logs:        ${logDir}`);
  try {
    const demo = await ensureDemoApp(url);
    if (demo) console.log(`  demo app:    id ${demo.id}\n               write key  ${demo.writeKey}\n               server key ${demo.serverKey}`);
  } catch (err) {
    console.log(`  demo app:    not created (${err.message})`);
  }
  console.log('Press Ctrl-C to stop.');
}

// The demo app's keys are shown once by the API, so they are kept in the data folder to print again.
async function ensureDemoApp(url) {
  const file = path.join(dataDir, 'demo-app.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const res = await fetch(`${url}/v1/apps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'demo', fcm: { projectId: 'demo-proj', serviceAccount: null }, settings: {} }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/apps answered ${res.status}`);
  const app = await res.json();
  fs.writeFileSync(file, JSON.stringify(app), { mode: 0o600 });
  return app;
}

function shutdown() {
  stopping = true;
  for (const c of children.values()) c.kill('SIGTERM');
  setTimeout(() => { for (const c of children.values()) c.kill('SIGKILL'); process.exit(); }, 8000).unref();
  Promise.all([...children.values()].map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.on('exit', r))))).then(() => process.exit());
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
main().catch((err) => { console.error(err); shutdown(); });
