import * as http from 'node:http';

export interface Reply {
  /** 0 for a transport error. */
  status: number;
  ms: number;
  text: string;
}

/** POSTs one JSON body; resolves with the status, the latency in ms and the answer's text (never rejects). */
export function post(agent: http.Agent, base: URL, route: string, body: string, headers: Record<string, string>): Promise<Reply> {
  const t0 = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
  return new Promise((resolve) => {
    const req = http.request(
      { agent, host: base.hostname, port: base.port, path: route, method: 'POST', headers: { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: ms(), text }));
        res.on('error', () => resolve({ status: 0, ms: ms(), text }));
      },
    );
    req.on('error', (err) => resolve({ status: 0, ms: ms(), text: err.message }));
    req.end(body);
  });
}

export interface LoadResult {
  statuses: Record<string, number>;
  /** Latencies of the successes only. */
  latencies: number[];
  /** Indexes (as given to `request`) of the requests that succeeded, in completion order. */
  succeeded: number[];
  successes: number;
  seconds: number;
  /** Successes per second in consecutive windows of WINDOW_SECONDS (the last, partial one left out): shows a slowdown as the store grows. */
  perWindow: number[];
  firstError: string | null;
}

export const WINDOW_SECONDS = 10;

export interface LoadOptions {
  base: URL;
  /** Clients, each with its own keep-alive connection, each sending its next request when the previous one is answered. */
  concurrency: number;
  requests: number;
  /** No new request after this. */
  maxSeconds: number;
  /** The status that counts as a success. */
  okStatus: number;
  headers: Record<string, string>;
  /** The route and body of request number `i` (0 ≤ i < requests). */
  request: (i: number) => { route: string; body: string };
}

/** A closed loop of `concurrency` clients sending `requests` requests (stopping early at `maxSeconds`). */
export async function closedLoop(o: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const succeeded: number[] = [];
  const windows: number[] = [];
  let firstError: string | null = null;
  const started = Date.now();
  const deadline = started + o.maxSeconds * 1000;
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (next < o.requests && Date.now() < deadline) {
        const i = next++;
        const { route, body } = o.request(i);
        const r = await post(agent, o.base, route, body, o.headers);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === o.okStatus) {
          latencies.push(r.ms);
          succeeded.push(i);
          const w = Math.floor((Date.now() - started) / (WINDOW_SECONDS * 1000));
          windows[w] = (windows[w] ?? 0) + 1;
        } else firstError ??= `${r.status} ${r.text.slice(0, 300)}`;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  const perWindow = Array.from({ length: Math.max(0, Math.floor(seconds / WINDOW_SECONDS)) }, (_, i) => Math.round((windows[i] ?? 0) / WINDOW_SECONDS));
  return { statuses, latencies, succeeded, successes: succeeded.length, seconds, perWindow, firstError };
}
