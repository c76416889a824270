/** The signed-in credential, kept for this tab only (sessionStorage): closing the tab signs out. */
export interface Session {
  kind: 'admin' | 'server';
  key: string;
  /** The app the console acts on: the server key's own, or the one the admin picked (null: all apps). */
  app: { id: string; name: string } | null;
}

const STORE = 'pushledger.console.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORE);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(STORE, JSON.stringify(s));
  else sessionStorage.removeItem(STORE);
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface Answer<T> {
  body: T;
  /** The `after` cursor of `Link: <…>; rel="next"`, when another page follows. */
  next: string | null;
}

function nextCursor(link: string | null): string | null {
  const m = link ? /<([^>]+)>;\s*rel="next"/.exec(link) : null;
  return m ? new URL(m[1], location.origin).searchParams.get('after') : null;
}

/** Calls the API as the session; the admin token reaches an app's routes naming it in X-Pushledger-App. */
export async function call<T>(session: Pick<Session, 'key' | 'kind' | 'app'>, method: string, path: string, body?: unknown, asApp = true): Promise<Answer<T>> {
  const headers: Record<string, string> = { authorization: `Bearer ${session.key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session.kind === 'admin' && asApp && session.app) headers['x-pushledger-app'] = session.app.id;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new ApiFailure(res.status, err?.code ?? 'http_error', err?.message ?? `HTTP ${res.status}`, err?.details);
  }
  return { body: parsed as T, next: nextCursor(res.headers.get('link')) };
}

export const enc = encodeURIComponent;

export function describe(err: unknown): string {
  if (err instanceof ApiFailure) {
    const details = Array.isArray(err.details) ? err.details.map((d: { field?: string; reason?: string }) => (d.field ? `${d.field}: ${d.reason ?? ''}` : JSON.stringify(d))).join('; ') : '';
    return `${err.message}${details ? ` (${details})` : ''} [${err.status} ${err.code}]`;
  }
  return err instanceof Error ? err.message : String(err);
}
