/**
 * bench/results/summary.md from every bench/results/*.json: hardware, versions, the key figures of each
 * scenario (medians where a scenario repeats), CPU per 1,000 operations beside throughput, and the
 * ours / Parse Server ratios. Run by bench/run.sh; on its own:
 *
 *   node -r ./libs/event-store/src/testing/ts-register.js bench/summary.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type J = any;

const dir = path.resolve(__dirname, 'results');
const read = (name: string): J | null => {
  const file = path.join(dir, `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
};
const n = (x: unknown, digits = 0): string => (typeof x === 'number' && Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits }) : '–');
const cpu = (o: Record<string, number | null> | undefined, keys?: string[]): string =>
  o
    ? Object.entries(o)
        .filter(([k]) => !keys || keys.includes(k))
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(', ')
    : '–';
const ratio = (a: unknown, b: unknown): string => (typeof a === 'number' && typeof b === 'number' && b > 0 ? `${(a / b).toFixed(2)}×` : '–');

function kafkaVersion(): string {
  for (const root of [path.resolve(__dirname, '..'), path.resolve(__dirname, '../../main')]) {
    const libs = path.join(root, '.data/kafka/libs');
    const jar = fs.existsSync(libs) ? fs.readdirSync(libs).find((f) => /^kafka_2\.13-[\d.]+\.jar$/.test(f)) : undefined;
    if (jar) return `Apache Kafka ${jar.replace(/^kafka_2\.13-|\.jar$/g, '')} (KRaft, one broker)`;
  }
  return 'Apache Kafka (deploy/local, one broker)';
}

function main(): void {
  const es = read('event-store');
  const ingest = read('ingest');
  const segments = read('segments');
  const fanout = read('fanout');
  const segmentsQuick = read('segments-50k');
  const replay = read('replay');
  const parse = read('parse');
  const times = read('run-times') ?? {};
  const any = [es, ingest, segments, fanout, replay, parse].find((r) => r?.machine);
  const m = any?.machine ?? {};
  const out: string[] = [];
  const line = (s = '') => out.push(s);

  line('# Benchmark summary');
  line();
  line(`Generated ${new Date().toISOString()} by \`bench/summary.ts\` from \`bench/results/*.json\`; \`npm run bench\` reruns everything (\`npm run bench -- <scenario>\` one scenario).`);
  line();
  line('## Machine and versions');
  line();
  line(`- Hardware: ${m.cores ?? '?'} cores, ${m.cpuModel ?? '?'}, ${m.memoryGiB ?? '?'} GiB RAM; ${m.os ?? ''}`);
  line(`- Node ${m.node ?? '?'}; the machine is shared with other work (load averages are in each results file), so figures are noisy`);
  line(`- Event store: PostgreSQL ${es?.engine?.version ?? parse?.versions?.postgres ?? '?'} (fsync ${es?.engine?.fsync ?? '?'}, synchronous_commit ${es?.engine?.synchronous_commit ?? '?'})`);
  line(`- Read models: ${segments?.engine?.readModels ?? 'FerretDB 1.24 on PostgreSQL'}`);
  line(`- Broker: ${kafkaVersion()}`);
  line(`- Peer: Parse Server ${parse?.versions?.parseServer ?? '?'} with @parse/push-adapter ${parse?.versions?.pushAdapter ?? '?'}`);
  const total = Object.values(times as Record<string, { seconds: number }>).reduce((a, t) => a + (t.seconds ?? 0), 0);
  line(`- Wall time per scenario (last run): ${Object.entries(times as Record<string, { seconds: number; exitCode: number }>).map(([k, t]) => `${k} ${t.seconds} s${t.exitCode ? ` (exit ${t.exitCode})` : ''}`).join(', ') || '–'}; sum ${n(total)} s`);
  line();

  line('## Event store (bench/event-store)');
  line();
  if (es) {
    line(`${es.method?.runsPerScenario ?? '?'} runs of ${es.method?.secondsPerRun ?? '?'} s per cell; median of the runs.`);
    line();
    line('| batch × writers | appends/s (median) | events/s (median) | p50 / p99 ms | CPU ms per 1,000 appends (client, server) |');
    line('|---|---:|---:|---:|---|');
    for (const a of es.appends ?? []) line(`| ${a.batchSize} × ${a.writers} | ${n(a.appendsPerSecond?.median)} | ${n(a.eventsPerSecond?.median)} | ${a.latencyMs?.p50} / ${a.latencyMs?.p99} | ${cpu(a.cpuMsPer1000Appends)} |`);
    line();
    line(`readAll: ${n(es.readAll?.eventsPerSecond)} events/s over ${n(es.readAll?.events)} events; CPU ms per 1,000 events: ${cpu(es.readAll?.cpuMsPer1000Events)}.`);
  } else line('No results.');
  line();

  line('## Registration (bench/ingest)');
  line();
  if (ingest) {
    line('| path | concurrency | registrations/s | p50 / p99 ms | CPU ms per 1,000 registrations |');
    line('|---|---:|---:|---:|---|');
    for (const h of ingest.http ?? []) line(`| POST /v1/devices | ${h.concurrency} | ${n(h.registrationsPerSecond)} | ${h.latencyMs?.p50} / ${h.latencyMs?.p99} | ${cpu(h.cpuMsPer1000Registrations)} |`);
    const k = ingest.kafkaIngest;
    if (k) line(`| Kafka ingest (Intilery register push) | – | ${n(k.messagesPerSecond)} msg/s | – | ${cpu(k.cpuMsPer1000Messages)} |`);
    line();
    line(`Requests per run: ${ingest.method?.requestsPerRun} (capped at ${ingest.method?.maxSecondsPerRun} s), ${ingest.method?.warmupRequests} warm-up; a fresh stack (gateway, registration, identity, relay) per scenario.`);
  } else line('No results.');
  line();

  /** A `## title` section: `render` when there are results, else "No results.". */
  const section = (title: string, results: J, render: (r: J) => void) => {
    line(`## ${title}`);
    line();
    if (results) render(results);
    else line('No results.');
    line();
  };
  const segmentsSection = (s: J) => {
    line(`${n(s.scale?.devices)} devices, ${n(s.scale?.users)} users, ${s.scale?.partitions} partitions, measured ${String(s.generatedAt ?? '').slice(0, 16)}. Load ${n(s.load?.docsPerSecond)} docs/s (${n(s.load?.ms / 1000, 1)} s).`);
    line();
    line('| query | result | time |');
    line('|---|---:|---:|');
    line(`| device by id (p50 / p99) | – | ${s.pointReads?.deviceByIdMs?.p50} / ${s.pointReads?.deviceByIdMs?.p99} ms |`);
    line(`| user's devices (p50 / p99) | – | ${s.pointReads?.userDevicesMs?.p50} / ${s.pointReads?.userDevicesMs?.p99} ms |`);
    for (const p of s.previews ?? []) line(`| preview: ${p.segment} | ${n(p.count)} users | ${n(p.ms)} ms (${n(p.usersScannedPerSecond)} users/s) |`);
    line(`| targeting stream, everyone | ${n(s.targeting?.pairs)} pairs | ${n(s.targeting?.ms)} ms (${n(s.targeting?.usersPerSecond)} users/s) |`);
    line(`| projector, live path | ${n(s.projectorLivePath?.events)} events | ${n(s.projectorLivePath?.eventsPerSecond)} events/s |`);
    line(`| rebuild from the event store | ${n(s.rebuild?.events)} events | ${n(s.rebuild?.eventsPerSecond)} events/s |`);
    line();
    const x = s.extrapolatedTo1M;
    if (x && s.scale?.devices < 1_000_000) line(`Extrapolated to 1,000,000 devices (${x.method}): load ${n(x.loadSeconds)} s, targeting ${n(x.targetingSeconds)} s, previews ${(x.previewSeconds ?? []).map((p: J) => `${n(p.seconds)} s`).join(' / ')}${x.deviceByIdMsP50 === undefined ? '' : `, device by id p50 ${x.deviceByIdMsP50} ms`}.`);
  };
  section('Read models and segments (bench/segments; 1,000,000 devices, run on its own: about 25 minutes)', segments, segmentsSection);
  section('Read models and segments, quick run of `npm run bench` (bench/segments --name segments-50k)', segmentsQuick, segmentsSection);

  const fanoutSection = (f: J) => {
    line('| devices | FCM latency | measured | pushes/s | time to first / last send | all outcomes recorded | CPU ms per 1,000 pushes |');
    line('|---:|---:|---|---:|---:|---:|---|');
    for (const r of f.runs ?? [])
      line(`| ${n(r.devices)} | ${r.latencyMs} ms | ${String(r.measuredAt ?? f.generatedAt ?? '').slice(0, 16)} | ${n(r.pushesPerSecond)}${r.completed ? '' : ' (incomplete)'} | ${r.timeToFirstSendSeconds} s / ${r.timeToLastSendSeconds ?? '–'} s | ${r.allOutcomesRecordedSeconds ?? '–'} s | ${cpu(r.cpuMsPer1000Pushes)} |`);
    line();
    line(`Path: ${f.method?.path}. Seeding: ${f.method?.seeding}. One run per cell.`);
  };
  section('Broadcast fan-out (bench/fanout)', fanout, fanoutSection);

  line('## Replay (bench/replay)');
  line();
  if (replay) {
    line(`${n(replay.replay?.events)} events: ${n(replay.replay?.eventsPerSecond)} events/s (${replay.replay?.wallSeconds} s wall, ${n(replay.replay?.cpuMs)} ms CPU = ${n((replay.replay?.cpuMs / replay.replay?.events) * 1000, 1)} ms per 1,000 events, peak RSS ${replay.replay?.peakRssMiB} MiB).`);
    line(`Sealed (crypto-shredded) events: ${n(replay.sealed?.eventsPerSecond)} events/s over ${n(replay.sealed?.events)} (${n((replay.sealed?.cpuMs / replay.sealed?.events) * 1000, 1)} ms CPU per 1,000).`);
  } else line('No results.');
  line();

  line('## Peer: Parse Server (bench/parse), ours / Parse');
  line();
  if (parse) {
    const pr = parse.registration;
    const ours = (ingest?.http ?? []).find((h: J) => h.concurrency === pr?.concurrency);
    const oursPush = (fanout?.runs ?? []).find((r: J) => r.latencyMs === 0 && r.completed);
    const sumCpu = (o: Record<string, number | null> | undefined, keys: string[]) => keys.reduce((a, k) => a + (o?.[k] ?? 0), 0);
    const ourRegCpu = sumCpu(ours?.cpuMsPer1000Registrations, ['gateway', 'registration', 'identity', 'relay']);
    const parseRegCpu = sumCpu(pr?.cpuMsPer1000Registrations, ['parseServer']);
    const ourPushCpu = sumCpu(oursPush?.cpuMsPer1000Pushes, ['gateway', 'campaign', 'delivery']);
    const parsePushCpu = sumCpu(parse.push?.runs?.[0]?.cpuMsPer1000Pushes, ['parseServer']);
    const parsePushCpuMedian = (() => {
      const xs = (parse.push?.runs ?? []).map((r: J) => r.cpuMsPer1000Pushes?.parseServer).filter((x: unknown) => typeof x === 'number').sort((a: number, b: number) => a - b);
      return xs.length ? xs[Math.floor(xs.length / 2)] : parsePushCpu;
    })();
    line('| figure | ours | Parse Server | ours / Parse |');
    line('|---|---:|---:|---:|');
    line(`| registrations/s at concurrency ${pr?.concurrency} | ${n(ours?.registrationsPerSecond)} | ${n(pr?.registrationsPerSecond)} | ${ratio(ours?.registrationsPerSecond, pr?.registrationsPerSecond)} |`);
    line(`| registration p50 latency ms | ${ours?.latencyMs?.p50 ?? '–'} | ${pr?.latencyMs?.p50 ?? '–'} | ${ratio(ours?.latencyMs?.p50, pr?.latencyMs?.p50)} |`);
    line(`| app CPU ms per 1,000 registrations (our 4 processes / Parse's 1) | ${n(ourRegCpu)} | ${n(parseRegCpu)} | ${ratio(ourRegCpu, parseRegCpu)} |`);
    line(`| PostgreSQL backend CPU ms per 1,000 registrations | ${n(ours?.cpuMsPer1000Registrations?.postgresBackends)} | ${n(pr?.cpuMsPer1000Registrations?.postgresBackends)} | ${ratio(ours?.cpuMsPer1000Registrations?.postgresBackends, pr?.cpuMsPer1000Registrations?.postgresBackends)} |`);
    line(`| push to all, pushes/s (ours: broadcast to ${n(oursPush?.devices)}; Parse: ${n(parse.push?.runs?.[0]?.installations)} installations, median of ${parse.push?.runs?.length}) | ${n(oursPush?.pushesPerSecond)} | ${n(parse.push?.pushesPerSecond?.median)} | ${ratio(oursPush?.pushesPerSecond, parse.push?.pushesPerSecond?.median)} |`);
    line(`| app CPU ms per 1,000 pushes (gateway+campaign+delivery / Parse) | ${n(ourPushCpu)} | ${n(parsePushCpuMedian)} | ${ratio(ourPushCpu, parsePushCpuMedian)} |`);
    line();
    line('A ratio above 1 means ours is higher: better for throughput, worse for latency and CPU. Configuration of both sides:');
    for (const [k, v] of Object.entries(parse.configuration ?? {})) line(`- ${k}: ${v}`);
    line('- ours: the same run\'s bench/ingest (gateway, registration, identity, relay as separate processes; every 201 is a stored event, with per-user privacy keys) and bench/fanout at 0 ms (campaign service targets through the read models, delivery records a ledger row per pair and outcome events in Kafka before committing). Parse keeps one row per installation and, for a push, a _PushStatus row; it has no ledger per (message, device). The push sizes differ (seeding Parse installations goes through its API); rates are compared, not times.');
  } else line('No results.');
  line();

  const chaos = read('chaos-runs');
  const chaosSection = (c: J) => {
    line(`\`npm run test:chaos\` (${c.form} form), ${c.passedInARow} of ${c.runsPlanned} runs passed in a row; generated ${String(c.generatedAt).slice(0, 16)}.`);
    line();
    line('| run | started | passed | seconds | scenario: acknowledged / operations, faults, max receipts per message |');
    line('|---:|---|---|---:|---|');
    for (const r of c.runs ?? [])
      line(`| ${r.run} | ${String(r.startedAt ?? '').slice(0, 16)} | ${r.passed ? 'yes' : 'no'} | ${n(r.seconds)} | ${(r.reports ?? []).map((x: J) => `${x.scenario}: ${n(x.acked)}/${n(x.ops)}, ${x.faults}, ${x.maxReceiptsPerMessage}`).join('; ')} |`);
  };
  section('Fault injection (test/chaos, bench/results/chaos-runs.json)', chaos, chaosSection);
  const soakSection = (k: J) => {
    const a = k.achieved ?? {};
    line(`${k.method?.durationSeconds} s; target ${k.method?.targetRegistrationsPerSecond ?? '–'} registrations/s (${k.method?.basis}); reached ${n(a.registrationsPerSecond, 1)} registrations/s, ${n(a.opsPerSecond, 1)} operations/s; ${n(a.acked)} of ${n(a.ops)} operations acknowledged, ${n(a.pushesSent)} of ${n(a.pushes)} pushes sent, ${a.problems} problems. Script: ${k.method?.script}.`);
    line();
    line(`| process | first RSS MB | last RSS MB | max RSS MB | second-half slope of per-minute floors, KB/s (limit ${k.method?.maxSlopeKbPerS}) |`);
    line('|---|---:|---:|---:|---:|');
    for (const [part, g] of Object.entries<J>(k.growth ?? {})) line(`| ${part} | ${n(g.firstKb / 1024)} | ${n(g.lastKb / 1024)} | ${n(g.maxKb / 1024)} | ${n(g.secondHalfFloorSlopeKbPerS, 2)}${g.growing ? ' (growing)' : ''} |`);
  };
  section('Soak (test/chaos/soak, bench/results/soak.json)', read('soak'), soakSection);

  line('## Sizes scaled down from the issues (so `npm run bench` fits in 30 minutes on 2 cores)');
  line();
  const big = (fanout?.runs ?? []).filter((r: J) => r.devices >= 1_000_000);
  line(
    `- fan-out: \`npm run bench\` runs 100,000 devices; fanout.json keeps runs of other sizes, measured on their own (1,000,000 devices at 0 and 40 ms: \`BENCH_ARGS_FANOUT="--devices 1000000 --latencies 0,40 --max-seconds 1500" npm run bench -- fanout\`${big.length ? `, about ${n(big.reduce((a: number, r: J) => a + (r.allOutcomesRecordedSeconds ?? 0), 0) / 60 + 4)} min` : ', not measured yet'}).`,
  );
  line(
    `- segments: \`npm run bench\` loads ${n(segmentsQuick?.scale?.devices ?? 50_000)} devices into segments-50k.json; segments.json is the 1,000,000-device run (\`BENCH_ARGS_SEGMENTS="--devices 1000000 --rebuild-events 200000 --projector-events 2000" npm run bench -- segments\`, ${segments?.load ? `${n(segments.load.ms / 60000 + 18)} min` : 'not measured yet'}).`,
  );
  line(`- ingest: ${n(ingest?.method?.requestsPerRun)} requests per concurrency, capped at ${ingest?.method?.maxSecondsPerRun} s; Kafka ingest ${n(ingest?.kafkaIngest?.messages)} messages.`);
  line(`- Parse: ${n(parse?.registration?.requests)} registrations at concurrency ${parse?.registration?.concurrency} (after 200 warm-up), push to every registered installation, ${parse?.push?.runs?.length ?? '?'} runs.`);
  line();
  fs.writeFileSync(path.join(dir, 'summary.md'), out.join('\n'));
  process.stdout.write(`${path.join(dir, 'summary.md')}\n`);
}

main();
