/**
 * bench/results/summary.md from every bench/results/*.json: hardware, versions, the key figures of each
 * scenario (medians where a scenario repeats), CPU per 1,000 operations beside throughput, and the
 * ours / Parse Server ratios. Run by bench/run.sh; on its own:
 *
 *   node -r ./libs/event-store/src/testing/ts-register.js bench/summary.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resultsDir } from './lib/results';

type J = any;

const dir = resultsDir();
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
const round1 = (x: number) => Math.round(x * 10) / 10;
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
  line(`- Peer: Parse Server ${parse?.versions?.parseServer ?? ingest?.parseVersions?.parseServer ?? '?'} with @parse/push-adapter ${parse?.versions?.pushAdapter ?? ingest?.parseVersions?.pushAdapter ?? '?'}`);
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

  line('## Write path: registration, identify, logout, Kafka ingest (bench/ingest), with Parse Server in the same run');
  line();
  if (ingest) {
    const stackParts = (ingest.method?.stack ?? ['gateway', 'registration', 'identity', 'relay']).join(', ');
    const runs: J[] = ingest.http ?? [];
    const at = (c: number) => runs.find((h) => h.concurrency === c);
    const first = at(32) ?? runs[0];
    const last = at(128) ?? runs.at(-1);
    const k = ingest.kafkaIngest;
    line('Headline figures:');
    line();
    line(`- \`POST /v1/devices\` at ${first?.concurrency ?? '?'} clients: ${n(first?.registrationsPerSecond)} registrations/s; Parse Server \`POST /parse/installations\` at ${first?.parse?.concurrency ?? '?'} clients in the same run: ${n(first?.parse?.registrationsPerSecond)}/s; ours / Parse = ${first?.ratio?.registrationsPerSecond ?? '–'}`);
    line(`- \`POST /v1/devices\` p99 at ${last?.concurrency ?? '?'} clients: ${last?.latencyMs?.p99 ?? '–'} ms (p50 ${last?.latencyMs?.p50 ?? '–'} ms)`);
    line(`- Kafka ingest: ${n(k?.messagesPerSecond)} messages/s applied (${n(k?.messages)} Intilery \`register push\`, timed until the registration service committed past the last one${k?.projectedSeconds === undefined ? '' : `; in the read models after ${k?.projectedSeconds ?? '–'} s`})`);
    for (const kind of ['identify', 'logout']) {
      const x = first?.[kind];
      line(`- \`POST /v1/${kind}\` at ${first?.concurrency ?? '?'} clients: ${x ? `${n(x.perSecond)}/s, p50 / p99 ${x.latencyMs?.p50} / ${x.latencyMs?.p99} ms, ${n(x.totalCpuMsPer1000)} CPU ms per 1,000` : '–'}`);
    }
    line(`- Total CPU per 1,000 registrations at ${first?.concurrency ?? '?'} clients, every process: ${n(first?.totalCpuMsPer1000Registrations)} ms (${cpu(first?.cpuMsPer1000Registrations)}); Parse Server: ${n(first?.parse?.totalCpuMsPer1000Registrations)} ms (${cpu(first?.parse?.cpuMsPer1000Registrations)})`);
    line();
    line('| path | concurrency | per second | p50 / p99 ms | applied after the last answer | total CPU ms per 1,000 | CPU ms per 1,000 by process |');
    line('|---|---:|---:|---:|---:|---:|---|');
    // Answers other than the success (e.g. 503 when the registry did not answer in time), beside the rate.
    const failed = (statuses: Record<string, number> | undefined, ok: string) => {
      const other = Object.entries(statuses ?? {}).filter(([code]) => code !== ok);
      return other.length ? ` (${other.map(([code, k]) => `${n(k)} × ${code === '0' ? 'no answer' : code}`).join(', ')})` : '';
    };
    const applied = (s: unknown) => (s === undefined ? '–' : s === null ? 'not in time' : `${s} s`);
    for (const h of runs) {
      line(`| POST /v1/devices | ${h.concurrency} | ${n(h.registrationsPerSecond)}${failed(h.statuses, '201')} | ${h.latencyMs?.p50} / ${h.latencyMs?.p99} | ${applied(h.appliedSeconds)} | ${n(h.totalCpuMsPer1000Registrations)} | ${cpu(h.cpuMsPer1000Registrations)} |`);
      const pp = h.parse;
      if (pp) line(`| Parse Server POST /parse/installations (same run) | ${pp.concurrency} | ${n(pp.registrationsPerSecond)}${failed(pp.statuses, '201')} | ${pp.latencyMs?.p50} / ${pp.latencyMs?.p99} | – | ${n(pp.totalCpuMsPer1000Registrations)} | ${cpu(pp.cpuMsPer1000Registrations)} |`);
      for (const kind of ['identify', 'logout']) {
        const x = h[kind];
        if (x) line(`| POST /v1/${kind} | ${h.concurrency} | ${n(x.perSecond)}${failed(x.statuses, '200')} | ${x.latencyMs?.p50} / ${x.latencyMs?.p99} | ${applied(x.appliedSeconds)} | ${n(x.totalCpuMsPer1000)} | ${cpu(x.cpuMsPer1000)} |`);
      }
    }
    if (k) line(`| Kafka ingest (Intilery register push) | – | ${n(k.messagesPerSecond)} msg/s | – | ${applied(k.projectedSeconds === undefined ? undefined : k.projectedSeconds === null ? null : round1(k.projectedSeconds - k.seconds))} | ${n(k.totalCpuMsPer1000Messages)} | ${cpu(k.cpuMsPer1000Messages)} |`);
    line();
    const ratios = runs.filter((h) => h.ratio);
    if (ratios.length) line(`Ours / Parse Server by concurrency (registrations/s; p99; total CPU per registration): ${ratios.map((h) => `${h.concurrency}: ${h.ratio.registrationsPerSecond ?? '–'}; ${h.ratio.latencyP99 ?? '–'}; ${h.ratio.totalCpuMsPer1000Registrations ?? '–'}`).join(' · ')}.`);
    if (ingest.engines) line(`Engines: ours ${ingest.engines.pushledger}; Parse: ${ingest.engines.parse ?? 'not run'}.`);
    line(`Requests per phase: ${ingest.method?.requestsPerRun} (capped at ${ingest.method?.maxSecondsPerRun} s), ${ingest.method?.warmupRequests} warm-up; a fresh stack (${stackParts}) per concurrency.${ingest.method?.phases ? ` Phases: ${ingest.method.phases}.` : ''}`);
    if (ingest.method?.applied) line(`Applied: ${ingest.method.applied}.`);
    line(`CPU: ${ingest.method?.cpu ?? '–'}.`);
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
    line('Every query runs in the bench process against the read models: the gateway and campaign service a user goes through are not in these times (they add one Kafka request and its reply).');
    line();
    line('| query | result | time |');
    line('|---|---:|---:|');
    line(`| device by id (p50 / p99) | – | ${s.pointReads?.deviceByIdMs?.p50} / ${s.pointReads?.deviceByIdMs?.p99} ms |`);
    line(`| user's devices (p50 / p99) | – | ${s.pointReads?.userDevicesMs?.p50} / ${s.pointReads?.userDevicesMs?.p99} ms |`);
    for (const p of s.previews ?? []) {
      line(`| preview: ${p.segment} | ${n(p.count)} users | ${n(p.ms)} ms (${n(p.usersScannedPerSecond)} users/s) |`);
      const e = p.estimated;
      if (e) line(`| estimated (live count, budget ${n(e.budgetMs)} ms): ${p.segment} | ${n(e.count)} ± ${n(e.margin)} users (${e.partitionsCounted} of ${s.scale?.partitions} partitions; ${e.errorPercent}% off, ${e.withinMargin ? 'within' : 'outside'} the margin) | ${n(e.ms)} ms |`);
    }
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

  line('## Peer: Parse Server (bench/ingest in the same run, bench/parse), ours / Parse');
  line();
  // Registration from bench/ingest's same-run Parse phase (at 32 clients when run there); older ingest results had none, then bench/parse's.
  const withParse: J[] = (ingest?.http ?? []).filter((h: J) => h.parse);
  const sameRun = withParse.find((h) => h.concurrency === 32) ?? withParse[0];
  if (parse || sameRun) {
    const pr = sameRun?.parse ?? parse?.registration;
    const ours = sameRun ?? (ingest?.http ?? []).find((h: J) => h.concurrency === pr?.concurrency);
    const ourApps: string[] = ingest?.method?.stack ?? ['gateway', 'registration', 'identity', 'relay'];
    const oursPush = (fanout?.runs ?? []).find((r: J) => r.latencyMs === 0 && r.completed);
    const sumCpu = (o: Record<string, number | null> | undefined, keys: string[]) => keys.reduce((a, k) => a + (o?.[k] ?? 0), 0);
    const ourRegCpu = sumCpu(ours?.cpuMsPer1000Registrations, ourApps);
    const parseRegCpu = sumCpu(pr?.cpuMsPer1000Registrations, ['parseServer']);
    const ourPushCpu = sumCpu(oursPush?.cpuMsPer1000Pushes, ['gateway', 'campaign', 'delivery']);
    const parsePushCpu = sumCpu(parse?.push?.runs?.[0]?.cpuMsPer1000Pushes, ['parseServer']);
    const parsePushCpuMedian = (() => {
      const xs = (parse?.push?.runs ?? []).map((r: J) => r.cpuMsPer1000Pushes?.parseServer).filter((x: unknown) => typeof x === 'number').sort((a: number, b: number) => a - b);
      return xs.length ? xs[Math.floor(xs.length / 2)] : parsePushCpu;
    })();
    line(`Registration figures: ${sameRun ? 'the same run of bench/ingest (Parse right after ours, same concurrency)' : 'bench/ingest and bench/parse (separate runs)'}.`);
    line();
    line('| figure | ours | Parse Server | ours / Parse |');
    line('|---|---:|---:|---:|');
    line(`| registrations/s at concurrency ${pr?.concurrency} | ${n(ours?.registrationsPerSecond)} | ${n(pr?.registrationsPerSecond)} | ${ratio(ours?.registrationsPerSecond, pr?.registrationsPerSecond)} |`);
    line(`| registration p50 / p99 latency ms | ${ours?.latencyMs?.p50 ?? '–'} / ${ours?.latencyMs?.p99 ?? '–'} | ${pr?.latencyMs?.p50 ?? '–'} / ${pr?.latencyMs?.p99 ?? '–'} | ${ratio(ours?.latencyMs?.p50, pr?.latencyMs?.p50)} / ${ratio(ours?.latencyMs?.p99, pr?.latencyMs?.p99)} |`);
    line(`| app CPU ms per 1,000 registrations (our ${ourApps.length} processes / Parse's 1) | ${n(ourRegCpu)} | ${n(parseRegCpu)} | ${ratio(ourRegCpu, parseRegCpu)} |`);
    line(`| PostgreSQL backend CPU ms per 1,000 registrations | ${n(ours?.cpuMsPer1000Registrations?.postgresBackends)} | ${n(pr?.cpuMsPer1000Registrations?.postgresBackends)} | ${ratio(ours?.cpuMsPer1000Registrations?.postgresBackends, pr?.cpuMsPer1000Registrations?.postgresBackends)} |`);
    if (ours?.totalCpuMsPer1000Registrations !== undefined)
      line(`| total CPU ms per 1,000 registrations, every process (ours with FerretDB and the Kafka broker) | ${n(ours.totalCpuMsPer1000Registrations)} | ${n(pr?.totalCpuMsPer1000Registrations)} | ${ratio(ours.totalCpuMsPer1000Registrations, pr?.totalCpuMsPer1000Registrations)} |`);
    if (parse) line(`| push to all, pushes/s (ours: broadcast to ${n(oursPush?.devices)}; Parse: ${n(parse.push?.runs?.[0]?.installations)} installations, median of ${parse.push?.runs?.length}) | ${n(oursPush?.pushesPerSecond)} | ${n(parse.push?.pushesPerSecond?.median)} | ${ratio(oursPush?.pushesPerSecond, parse.push?.pushesPerSecond?.median)} |`);
    if (parse) line(`| app CPU ms per 1,000 pushes (gateway+campaign+delivery / Parse) | ${n(ourPushCpu)} | ${n(parsePushCpuMedian)} | ${ratio(ourPushCpu, parsePushCpuMedian)} |`);
    line();
    line('A ratio above 1 means ours is higher: better for throughput, worse for latency and CPU. Configuration of both sides:');
    for (const [k, v] of Object.entries(parse?.configuration ?? {})) line(`- ${k}: ${v}`);
    line(`- ours: bench/ingest (${ourApps.join(', ')} as separate processes; every 201 is a stored event, with per-user privacy keys) and bench/fanout at 0 ms (campaign service targets through the read models, delivery records a ledger row per pair and outcome events in Kafka before committing). Parse keeps one row per installation and, for a push, a _PushStatus row; it has no ledger per (message, device). The push sizes differ (seeding Parse installations goes through its API); rates are compared, not times.`);
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
  line(`- ingest: ${n(ingest?.method?.requestsPerRun)} requests per phase and concurrency, capped at ${ingest?.method?.maxSecondsPerRun} s; Kafka ingest ${n(ingest?.kafkaIngest?.messages)} messages.`);
  line(`- Parse: ${n(parse?.registration?.requests)} registrations at concurrency ${parse?.registration?.concurrency} (after 200 warm-up), push to every registered installation, ${parse?.push?.runs?.length ?? '?'} runs.`);
  line();
  fs.writeFileSync(path.join(dir, 'summary.md'), out.join('\n'));
  process.stdout.write(`${path.join(dir, 'summary.md')}\n`);
}

main();
