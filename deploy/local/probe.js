#!/usr/bin/env node
// Readiness probe used by deploy/local/infra.sh: makes a real request to an engine,
// retrying until it answers or the deadline passes.
//
//   node probe.js kafka <host:port> <timeoutMs> [pid] [client.env]   -> kafkajs admin.listTopics()
//     (client.env: KAFKA_SSL_CA_FILE and KAFKA_SASL_* lines, as infra.sh up-secure writes them)
//   node probe.js mongo <mongodb-uri> <timeoutMs> [pid] -> ping + listCollections (mongodb driver)
//
// Exit codes: 0 ready, 1 not ready before the deadline (last error on stderr),
// 2 the watched pid died, 3 the client library is not installed (node_modules missing).
'use strict';

const path = require('path');
const { createRequire } = require('module');

const repoRoot = path.resolve(__dirname, '..', '..');
const requireFromRepo = createRequire(path.join(repoRoot, 'package.json'));

const [kind, target, timeoutArg, pidArg, clientEnvArg] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg || 30000);
const pid = pidArg ? Number(pidArg) : 0;

function load(name, fromPkg) {
  try {
    if (fromPkg) {
      const base = path.dirname(requireFromRepo.resolve(`${fromPkg}/package.json`));
      return createRequire(path.join(base, 'package.json'))(name);
    }
    return requireFromRepo(name);
  } catch (err) {
    process.stderr.write(`probe: cannot load ${name} from ${repoRoot}/node_modules (${err.code || err.message})\n`);
    process.exit(3);
  }
}

function alive() {
  if (!pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** TLS and SASL for the secure broker, from the env file infra.sh writes for its clients. */
function kafkaSecurity(file) {
  if (!file) return {};
  const fs = require('fs');
  const env = Object.fromEntries(
    fs.readFileSync(file, 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    ssl: { ca: [fs.readFileSync(env.KAFKA_SSL_CA_FILE, 'utf8')] },
    sasl: { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME, password: fs.readFileSync(env.KAFKA_SASL_PASSWORD_FILE, 'utf8').trim() },
  };
}

async function kafkaOnce(broker) {
  const { Kafka, logLevel } = load('kafkajs');
  const kafka = new Kafka({
    clientId: 'pushledger-infra-probe',
    brokers: [broker],
    ...kafkaSecurity(clientEnvArg),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function mongoOnce(uri) {
  let mongodb;
  try {
    mongodb = requireFromRepo('mongodb');
  } catch {
    mongodb = load('mongodb', 'mongoose');
  }
  const client = new mongodb.MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    const db = client.db();
    await db.command({ ping: 1 });
    await db.listCollections({}, { nameOnly: true }).toArray(); // touches the PostgreSQL backend
  } finally {
    await client.close().catch(() => {});
  }
}

async function main() {
  const once = kind === 'kafka' ? kafkaOnce : kind === 'mongo' ? mongoOnce : null;
  if (!once || !target) {
    process.stderr.write('usage: probe.js kafka|mongo <target> <timeoutMs> [pid] [kafka client.env]\n');
    process.exit(64);
  }
  let last = 'no attempt made';
  for (;;) {
    if (!alive()) {
      process.stderr.write(`probe: process ${pid} exited (last error: ${last})\n`);
      process.exit(2);
    }
    try {
      await once(target);
      process.exit(0);
    } catch (err) {
      last = (err && err.message) || String(err);
    }
    if (Date.now() + 500 > deadline) break;
    await sleep(500);
  }
  process.stderr.write(`probe: ${kind} at ${target} not ready: ${last}\n`);
  process.exit(1);
}

main();
