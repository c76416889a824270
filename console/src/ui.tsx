import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describe, type Session } from './api';

let nextId = 0;
/** A stable id per component instance, to tie a label to its input. */
export function useId(prefix: string): string {
  const ref = useRef<string | null>(null);
  ref.current ??= `${prefix}-${++nextId}`;
  return ref.current;
}

export function Field(props: { label: string; children: (id: string) => ComponentChildren; hint?: string }) {
  const id = useId('f');
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children(id)}
      {props.hint ? <small>{props.hint}</small> : null}
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  );
}

/** Runs an async action, keeping its result, error and whether it is running. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  const [state, setState] = useState<{ busy: boolean; error: unknown; result: R | null }>({ busy: false, error: null, result: null });
  const run = useCallback(
    async (...args: A) => {
      setState((s) => ({ ...s, busy: true, error: null }));
      try {
        const result = await fn(...args);
        setState({ busy: false, error: null, result });
        return result;
      } catch (error) {
        setState((s) => ({ ...s, busy: false, error }));
        return null;
      }
    },
    [fn],
  );
  return { ...state, run, set: (result: R | null) => setState({ busy: false, error: null, result }) };
}

/** Logs how long a page took from being opened to its first data (read by the browser suite). */
export function usePageTiming(page: string, ready: boolean) {
  const started = useRef(performance.now());
  const logged = useRef(false);
  useEffect(() => {
    if (ready && !logged.current) {
      logged.current = true;
      document.body.dataset.loaded = page;
      console.info(JSON.stringify({ consolePage: page, loadMs: Math.round(performance.now() - started.current) }));
    }
  }, [ready, page]);
}

export function Table(props: { caption: string; head: string[]; rows: ComponentChildren[][]; empty?: string }) {
  if (!props.rows.length) return <p>{props.empty ?? 'Nothing yet.'}</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.head.map((h) => (
              <th scope="col">{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr>
              {r.map((c) => (
                <td>{c}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Horizontal bars, one per key: small inline SVG, no charting library. */
export function Bars({ title, counts }: { title: string; counts: Record<string, number> }) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const h = 22;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {entries.length ? (
        <svg role="img" aria-label={`${title}: ${entries.map(([k, n]) => `${k} ${n}`).join(', ')}`} viewBox={`0 0 320 ${entries.length * h}`} width="320" height={entries.length * h}>
          {entries.map(([k, n], i) => (
            <g>
              <text x="0" y={i * h + 15}>
                {k}
              </text>
              <rect x="110" y={i * h + 4} width={Math.max(1, (n / max) * 160)} height="14" />
              <text x={116 + (n / max) * 160} y={i * h + 15}>
                {n}
              </text>
            </g>
          ))}
        </svg>
      ) : (
        <p>None.</p>
      )}
    </figure>
  );
}

/** Columns over days, one series per key (stacked side by side). */
export function DailyChart({ title, days, series }: { title: string; days: { date: string; [k: string]: number | string }[]; series: string[] }) {
  const max = Math.max(1, ...days.flatMap((d) => series.map((s) => Number(d[s]) || 0)));
  const w = 640;
  const hgt = 140;
  const slot = w / Math.max(1, days.length);
  const bw = Math.max(1, (slot - 2) / series.length);
  const summary = series.map((s) => `${s} ${days.reduce((t, d) => t + (Number(d[s]) || 0), 0)}`).join(', ');
  return (
    <figure class="chart">
      <figcaption>
        {title} — {summary}
      </figcaption>
      <svg role="img" aria-label={`${title}, totals: ${summary}`} viewBox={`0 0 ${w} ${hgt + 20}`} width={w} height={hgt + 20}>
        {days.map((d, i) =>
          series.map((s, j) => {
            const v = Number(d[s]) || 0;
            const bh = (v / max) * hgt;
            return <rect class={`s${j}`} x={i * slot + j * bw} y={hgt - bh} width={bw} height={bh} />;
          }),
        )}
        <text x="0" y={hgt + 15}>
          {days[0]?.date ?? ''}
        </text>
        <text x={w} y={hgt + 15} text-anchor="end">
          {days[days.length - 1]?.date ?? ''}
        </text>
      </svg>
      <p class="legend">
        {series.map((s, j) => (
          <span class={`key s${j}`}>{s}</span>
        ))}
      </p>
    </figure>
  );
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  return <pre aria-label={label}>{JSON.stringify(value, null, 2)}</pre>;
}

export type PageProps = { session: Session };

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—';
}
