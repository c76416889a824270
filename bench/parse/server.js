// Parse Server for the peer bench, as its own process: node bench/parse/server.js
// Env: PARSE_DATABASE_URI, PARSE_PORT, FCM_ENDPOINT, FCM_CA_FILE. See bench/parse/README.md.
'use strict';
const fs = require('node:fs');
const http2 = require('node:http2');
const { createRequire } = require('node:module');

const FCM_HOST = 'fcm.googleapis.com';
const sim = new URL(process.env.FCM_ENDPOINT);
const ca = fs.readFileSync(process.env.FCM_CA_FILE);

// firebase-admin opens its HTTP/2 session with http2.connect('https://fcm.googleapis.com'): send it to the
// simulator (same trick as libs/fcm, unconditional here since this process talks to no other FCM).
const connect = http2.connect;
http2.connect = function (authority, ...rest) {
  if (!String(authority).startsWith(`https://${FCM_HOST}`)) return connect.call(this, authority, ...rest);
  const listener = typeof rest[0] === 'function' ? rest[0] : rest[1];
  const options = typeof rest[0] === 'object' && rest[0] !== null ? rest[0] : {};
  const session = connect.call(this, sim.origin, { ...options, ca, servername: FCM_HOST }, listener);
  const request = session.request;
  session.request = function (headers, opts) {
    if (headers) {
      if (headers[':scheme'] === 'https:') headers[':scheme'] = 'https';
      if (headers[':authority'] === undefined) headers[':authority'] = FCM_HOST;
    }
    return request.call(this, headers, opts);
  };
  return session;
};

// The push adapter calls initializeApp({ credential: cert(serviceAccount) }) only when no default app
// exists: create that default app first, on the adapter's own firebase-admin copy, with a fixed access
// token (the simulator does not check it), so no Google OAuth round trip is needed.
const adapterRequire = createRequire(require.resolve('@parse/push-adapter'));
const { initializeApp } = adapterRequire('firebase-admin/app');
initializeApp({ credential: { getAccessToken: async () => ({ access_token: 'sim-token', expires_in: 3600 }) }, projectId: 'parse-bench' });

const express = createRequire(require.resolve('parse-server'))('express');
const { ParseServer } = require('parse-server');

async function main() {
  const port = Number(process.env.PARSE_PORT);
  const server = new ParseServer({
    databaseURI: process.env.PARSE_DATABASE_URI,
    appId: 'bench',
    masterKey: 'bench-master-key',
    clientKey: 'bench-client-key',
    serverURL: `http://127.0.0.1:${port}/parse`,
    logLevel: 'error',
    verbose: false,
    allowClientClassCreation: false,
    push: {
      android: {
        // Only checked for presence: the default app above is used (see initializeApp).
        firebaseServiceAccount: { project_id: 'parse-bench', client_email: 'bench@parse-bench.iam.gserviceaccount.com', private_key: 'unused' },
      },
    },
  });
  await server.start();
  const app = express();
  app.use('/parse', server.app);
  app.listen(port, '127.0.0.1', () => process.stdout.write(`parse-server listening on ${port}\n`));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
