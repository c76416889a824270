import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './app.css';
import { call, loadSession, saveSession, type Session } from './api';
import { AppsPage } from './pages/apps';
import { CampaignsPage } from './pages/campaigns';
import { DevicePage } from './pages/device';
import { OverviewPage } from './pages/overview';
import { SegmentsPage } from './pages/segments';
import { UserPage } from './pages/user';
import { ErrorBox, Field, useAction } from './ui';

const PAGES = [
  { id: 'overview', title: 'Overview', app: true, admin: false },
  { id: 'device', title: 'Device', app: true, admin: false },
  { id: 'user', title: 'User', app: true, admin: false },
  { id: 'segments', title: 'Segments', app: true, admin: false },
  { id: 'campaigns', title: 'Campaigns', app: true, admin: false },
  { id: 'apps', title: 'Apps', app: false, admin: true },
] as const;
type PageId = (typeof PAGES)[number]['id'];

const pageOf = (): PageId => {
  const id = location.hash.replace(/^#\/?/, '').split('?')[0];
  return (PAGES.find((p) => p.id === id)?.id ?? 'overview') as PageId;
};

interface AppSummary {
  id: string;
  name: string;
}

/** A key is the admin token when it opens the app list; else a server key, whose app /v1/me names. */
async function signIn(key: string): Promise<Session> {
  try {
    await call<AppSummary[]>({ key, kind: 'admin', app: null }, 'GET', '/v1/apps');
    return { kind: 'admin', key, app: null };
  } catch {
    const { body } = await call<{ app: AppSummary }>({ key, kind: 'server', app: null }, 'GET', '/v1/me');
    return { kind: 'server', key, app: { id: body.app.id, name: body.app.name } };
  }
}

function SignIn({ onDone }: { onDone: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const action = useAction(signIn);
  return (
    <main id="main" class="signin">
      <h1>Pushledger console</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const s = await action.run(key.trim());
          if (s) onDone(s);
        }}
      >
        <Field label="Server key or admin token" hint="Kept in this tab only (session storage); signing out or closing the tab forgets it.">
          {(id) => <input id={id} type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={action.busy}>
          Sign in
        </button>
        <ErrorBox error={action.error ? new Error('That key opens nothing: use an app\'s server key or the admin token.') : null} />
      </form>
    </main>
  );
}

function AppPicker({ session, onPick }: { session: Session; onPick: (app: AppSummary | null) => void }) {
  const [apps, setApps] = useState<AppSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    call<AppSummary[]>(session, 'GET', '/v1/apps', undefined, false).then((a) => setApps(a.body), setError);
  }, [session.key]);
  return (
    <div class="picker">
      <label for="app-picker">App</label>
      <select
        id="app-picker"
        value={session.app?.id ?? ''}
        onChange={(e) => {
          const id = e.currentTarget.value;
          onPick(id ? (apps ?? []).find((a) => a.id === id) ?? null : null);
        }}
      >
        <option value="">All apps</option>
        {(apps ?? []).map((a) => (
          <option value={a.id}>
            {a.name} ({a.id})
          </option>
        ))}
      </select>
      <ErrorBox error={error} />
    </div>
  );
}

function Console() {
  const [session, setSession] = useState<Session | null>(loadSession());
  const [page, setPage] = useState<PageId>(pageOf());
  // Clicking the link of the page already shown reloads its data (the hash does not change, so nothing else would).
  const [visit, setVisit] = useState(0);
  useEffect(() => {
    const on = () => setPage(pageOf());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const update = (s: Session | null) => {
    saveSession(s);
    setSession(s);
  };
  if (!session) return <SignIn onDone={update} />;
  const visible = PAGES.filter((p) => (p.admin ? session.kind === 'admin' : session.app !== null));
  const current = visible.find((p) => p.id === page) ?? visible[0];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <p class="brand">Pushledger</p>
        <p class="scope" aria-live="polite">
          {session.app ? (
            <>
              App: <strong>{session.app.name}</strong> <code>{session.app.id}</code>
            </>
          ) : (
            <strong>All apps</strong>
          )}
          {session.kind === 'admin' ? ' · admin' : ' · server key'}
        </p>
        {session.kind === 'admin' ? <AppPicker session={session} onPick={(app) => update({ ...session, app })} /> : null}
        <button type="button" class="secondary" onClick={() => update(null)}>
          Sign out
        </button>
      </header>
      <nav aria-label="Pages">
        <ul>
          {visible.map((p) => (
            <li>
              <a href={`#/${p.id}`} aria-current={p.id === current?.id ? 'page' : undefined} onClick={() => setVisit((v) => v + 1)}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {current ? <Page id={current.id} session={session} key={`${current.id}:${session.app?.id ?? ''}:${visit}`} onSession={update} /> : <p>Pick an app.</p>}
      </main>
    </>
  );
}

function Page({ id, session, onSession }: { id: PageId; session: Session; onSession: (s: Session) => void }) {
  switch (id) {
    case 'overview':
      return <OverviewPage session={session} />;
    case 'device':
      return <DevicePage session={session} />;
    case 'user':
      return <UserPage session={session} />;
    case 'segments':
      return <SegmentsPage session={session} />;
    case 'campaigns':
      return <CampaignsPage session={session} />;
    case 'apps':
      return <AppsPage session={session} onSession={onSession} />;
    default: {
      const never: never = id;
      return never;
    }
  }
}

const root = document.getElementById('app')!;
// The page's "Loading" placeholder is not Preact's: clear it, or render would keep it above the console.
root.textContent = '';
render(<Console />, root);
