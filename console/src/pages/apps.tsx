import { useEffect, useState } from 'preact/hooks';
import { call, enc, type Session } from '../api';
import { ErrorBox, Field, Table, useAction, usePageTiming, when, type PageProps } from '../ui';

interface App {
  id: string;
  name: string;
  fcm: { projectId: string; hasServiceAccount: boolean };
  apns?: { teamId: string; keyId: string; bundleId: string; production: boolean };
  settings: { devicePolicy?: string; staleAfterDays?: number; maxDevicesPerUser?: number; identityVerification?: boolean };
  createdAt: string;
}

interface Webhook {
  id: string;
  url: string;
  events: string[];
  createdAt: string;
  disabledAt?: string | null;
  disabledReason?: string | null;
}

function Keys({ keys }: { keys: Record<string, string> }) {
  return (
    <div class="keys" role="status">
      <p>Shown once: copy them now.</p>
      <dl class="grid">
        {Object.entries(keys).map(([k, v]) => (
          <>
            <dt>{k}</dt>
            <dd>
              <code>{v}</code>
            </dd>
          </>
        ))}
      </dl>
    </div>
  );
}

function Settings({ session, app, onSaved }: { session: Session; app: App; onSaved: () => void }) {
  const [s, setS] = useState({ devicePolicy: app.settings.devicePolicy ?? 'all', staleAfterDays: String(app.settings.staleAfterDays ?? 60), maxDevicesPerUser: String(app.settings.maxDevicesPerUser ?? 50), identityVerification: app.settings.identityVerification ?? false });
  const [apns, setApns] = useState({ teamId: '', keyId: '', bundleId: '', privateKey: '', production: false });
  const save = useAction(async () => {
    const settings = { devicePolicy: s.devicePolicy, staleAfterDays: Number(s.staleAfterDays), maxDevicesPerUser: Number(s.maxDevicesPerUser), identityVerification: s.identityVerification };
    return (await call<App>(session, 'PATCH', `/v1/apps/${enc(app.id)}`, { settings, ...(apns.privateKey ? { apns } : {}) }, false)).body;
  });
  return (
    <form
      aria-label="App settings"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await save.run()) {
          setApns({ ...apns, privateKey: '' });
          onSaved();
        }
      }}
    >
      <h4>Settings</h4>
      <div class="row">
        <Field label="Device policy">
          {(id) => (
            <select id={id} value={s.devicePolicy} onChange={(e) => setS({ ...s, devicePolicy: e.currentTarget.value })}>
              <option value="all">all</option>
              <option value="last_active">last_active</option>
              <option value="most_recent">most_recent</option>
            </select>
          )}
        </Field>
        <Field label="Stale after (days)">{(id) => <input id={id} type="number" min="1" value={s.staleAfterDays} onInput={(e) => setS({ ...s, staleAfterDays: e.currentTarget.value })} />}</Field>
        <Field label="Devices per user at most">{(id) => <input id={id} type="number" min="1" value={s.maxDevicesPerUser} onInput={(e) => setS({ ...s, maxDevicesPerUser: e.currentTarget.value })} />}</Field>
        <label class="check">
          <input type="checkbox" checked={s.identityVerification} onChange={(e) => setS({ ...s, identityVerification: e.currentTarget.checked })} /> Identity verification
        </label>
      </div>
      <h4>APNs credentials (write-only{app.apns ? `; set: team ${app.apns.teamId}, key ${app.apns.keyId}` : '; none set'})</h4>
      <div class="row">
        <Field label="APNs team id">{(id) => <input id={id} value={apns.teamId} onInput={(e) => setApns({ ...apns, teamId: e.currentTarget.value })} />}</Field>
        <Field label="APNs key id">{(id) => <input id={id} value={apns.keyId} onInput={(e) => setApns({ ...apns, keyId: e.currentTarget.value })} />}</Field>
        <Field label="APNs bundle id">{(id) => <input id={id} value={apns.bundleId} onInput={(e) => setApns({ ...apns, bundleId: e.currentTarget.value })} />}</Field>
        <label class="check">
          <input type="checkbox" checked={apns.production} onChange={(e) => setApns({ ...apns, production: e.currentTarget.checked })} /> Production
        </label>
      </div>
      <Field label="APNs private key (.p8, never shown again)">{(id) => <textarea id={id} rows={3} autocomplete="off" value={apns.privateKey} onInput={(e) => setApns({ ...apns, privateKey: e.currentTarget.value })} />}</Field>
      <button type="submit" disabled={save.busy}>
        Save settings
      </button>
      <ErrorBox error={save.error} />
      {save.result ? <p role="status">Saved.</p> : null}
    </form>
  );
}

function Webhooks({ session, app }: { session: Session; app: App }) {
  const as = { ...session, app: { id: app.id, name: app.name } };
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('*');
  const list = useAction(async () => (await call<Webhook[]>(as, 'GET', '/v1/webhooks')).body);
  const create = useAction(async () => (await call<Webhook & { secret: string }>(as, 'POST', '/v1/webhooks', { url, events: events.split(',').map((e) => e.trim()).filter(Boolean) })).body);
  const remove = useAction(async (id: string) => (await call<unknown>(as, 'DELETE', `/v1/webhooks/${enc(id)}`)).body);
  useEffect(() => void list.run(), [app.id]);
  return (
    <section aria-label="Webhooks">
      <h4>Webhooks</h4>
      <Table
        caption="The app's webhooks"
        head={['url', 'events', 'created', 'state', '']}
        rows={(list.result ?? []).map((w) => [
          w.url,
          w.events.join(', '),
          when(w.createdAt),
          w.disabledAt ? `disabled ${when(w.disabledAt)}: ${w.disabledReason ?? ''}` : 'active',
          <button type="button" class="danger" aria-label={`Delete webhook ${w.url}`} onClick={async () => (await remove.run(w.id), await list.run())}>
            Delete
          </button>,
        ])}
        empty="No webhooks."
      />
      <ErrorBox error={list.error ?? remove.error} />
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await create.run()) await list.run();
        }}
      >
        <Field label="Webhook URL">{(id) => <input id={id} type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />}</Field>
        <Field label="Event types (comma-separated, * for all)">{(id) => <input id={id} required value={events} onInput={(e) => setEvents(e.currentTarget.value)} />}</Field>
        <button type="submit">Add webhook</button>
      </form>
      <ErrorBox error={create.error} />
      {create.result ? <Keys keys={{ 'signing secret': create.result.secret }} /> : null}
    </section>
  );
}

function AppDetail({ session, app, onChanged }: { session: Session; app: App; onChanged: () => void }) {
  const [grace, setGrace] = useState('0');
  const rotate = useAction(async () => (await call<{ writeKey: string; serverKey: string }>(session, 'POST', `/v1/apps/${enc(app.id)}/keys`, { graceSeconds: Number(grace) }, false)).body);
  return (
    <section aria-label={`App ${app.name}`}>
      <h3>
        {app.name} <code>{app.id}</code>
      </h3>
      <p>
        FCM project <code>{app.fcm.projectId}</code>, service account {app.fcm.hasServiceAccount ? 'set' : 'not set'}. Created {when(app.createdAt)}.
      </p>
      <Settings session={session} app={app} onSaved={onChanged} key={app.id} />
      <form
        aria-label="Key rotation"
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void rotate.run();
        }}
      >
        <h4>Keys</h4>
        <Field label="Old keys keep working for (seconds)">{(id) => <input id={id} type="number" min="0" max="2592000" value={grace} onInput={(e) => setGrace(e.currentTarget.value)} />}</Field>
        <button type="submit" class="danger" disabled={rotate.busy}>
          Rotate keys
        </button>
      </form>
      <ErrorBox error={rotate.error} />
      {rotate.result ? <Keys keys={{ 'write key': rotate.result.writeKey, 'server key': rotate.result.serverKey }} /> : null}
      <Webhooks session={session} app={app} />
    </section>
  );
}

export function AppsPage({ session }: PageProps & { onSession: (s: Session) => void }) {
  const [selected, setSelected] = useState<string | null>(session.app?.id ?? null);
  const [form, setForm] = useState({ name: '', projectId: '', serviceAccount: '' });
  const list = useAction(async () => (await call<App[]>(session, 'GET', '/v1/apps', undefined, false)).body);
  const create = useAction(async () => {
    const serviceAccount = form.serviceAccount.trim() ? JSON.parse(form.serviceAccount) : null;
    return (await call<{ id: string; name: string; writeKey: string; serverKey: string; identitySecret: string }>(session, 'POST', '/v1/apps', { name: form.name, fcm: { projectId: form.projectId || 'pushledger-local', serviceAccount } }, false)).body;
  });
  usePageTiming('apps', list.result !== null || list.error !== null);
  useEffect(() => void list.run(), []);
  const app = (list.result ?? []).find((a) => a.id === selected);
  return (
    <>
      <h2>Apps</h2>
      <ErrorBox error={list.error} />
      <Table
        caption="Every app"
        head={['name', 'id', 'created', '']}
        rows={(list.result ?? []).map((a) => [
          a.name,
          <code>{a.id}</code>,
          when(a.createdAt),
          <button type="button" class="secondary" aria-label={`Manage app ${a.name}`} onClick={() => setSelected(a.id)}>
            Manage
          </button>,
        ])}
        empty="No apps yet."
      />
      {app ? <AppDetail session={session} app={app} onChanged={() => void list.run()} key={app.id} /> : null}
      <form
        aria-label="Create an app"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await create.run()) await list.run();
        }}
      >
        <h3>Create an app</h3>
        <div class="row">
          <Field label="App name">{(id) => <input id={id} required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />}</Field>
          <Field label="FCM project id">{(id) => <input id={id} value={form.projectId} onInput={(e) => setForm({ ...form, projectId: e.currentTarget.value })} />}</Field>
        </div>
        <Field label="FCM service account JSON (write-only)">{(id) => <textarea id={id} rows={3} autocomplete="off" value={form.serviceAccount} onInput={(e) => setForm({ ...form, serviceAccount: e.currentTarget.value })} />}</Field>
        <button type="submit" disabled={create.busy}>
          Create app
        </button>
        <ErrorBox error={create.error} />
        {create.result ? <Keys keys={{ 'app id': create.result.id, 'write key': create.result.writeKey, 'server key': create.result.serverKey, 'identity secret': create.result.identitySecret }} /> : null}
      </form>
    </>
  );
}
