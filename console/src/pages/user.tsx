import { useState } from 'preact/hooks';
import { call, enc } from '../api';
import { ErrorBox, Field, Json, Table, useAction, usePageTiming, when, type PageProps } from '../ui';
import type { Device } from './device';

interface User {
  id: string;
  traits: Record<string, unknown>;
  unsubscribed: boolean;
  topics: Record<string, boolean>;
  erased: boolean;
}

export function UserPage({ session }: PageProps) {
  const [userId, setUserId] = useState('');
  const [confirm, setConfirm] = useState('');
  const [asking, setAsking] = useState(false);
  usePageTiming('user', true);
  const load = useAction(async (id: string) => {
    const [user, devices] = await Promise.all([call<User>(session, 'GET', `/v1/users/${enc(id)}`), call<Device[]>(session, 'GET', `/v1/users/${enc(id)}/devices`).catch(() => ({ body: [] as Device[] }))]);
    return { user: user.body, devices: devices.body };
  });
  const consent = useAction(async (unsubscribed: boolean) => (await call<User>(session, 'PATCH', `/v1/users/${enc(load.result!.user.id)}`, { unsubscribed })).body);
  const exportUser = useAction(async () => {
    const { body } = await call<unknown>(session, 'GET', `/v1/users/${enc(load.result!.user.id)}/export`);
    const url = URL.createObjectURL(new Blob([JSON.stringify(body, null, 2)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `user-${load.result!.user.id}-export.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return true;
  });
  const erase = useAction(async () => (await call<{ erased: boolean }>(session, 'DELETE', `/v1/users/${enc(load.result!.user.id)}`)).body);
  const u = load.result?.user;
  return (
    <>
      <h2>User</h2>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          erase.set(null);
          void load.run(userId);
        }}
      >
        <Field label="User id">{(id) => <input id={id} required value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />}</Field>
        <button type="submit">Look up</button>
      </form>
      <ErrorBox error={load.error} />
      {u ? (
        <>
          <section aria-label="Profile">
            <h3>
              {u.id}
              {u.erased ? ' (erased)' : ''}
            </h3>
            <h4>Traits</h4>
            <Json value={u.traits} label="Traits" />
            <h4>Consent</h4>
            <p>{(consent.result ?? u).unsubscribed ? 'Unsubscribed from marketing pushes (transactional ones still go out).' : 'Subscribed.'}</p>
            <button type="button" class="secondary" onClick={() => void consent.run(!(consent.result ?? u).unsubscribed)}>
              {(consent.result ?? u).unsubscribed ? 'Resubscribe' : 'Unsubscribe'}
            </button>
            <ErrorBox error={consent.error} />
            <h4>Topics</h4>
            <Table caption="Topic settings" head={['topic', 'receives']} rows={Object.entries(u.topics).map(([t, on]) => [t, on ? 'yes' : 'no'])} empty="No topic settings (every topic on)." />
          </section>
          <section aria-label="User's devices">
            <h4>Devices</h4>
            <Table
              caption="The user's devices"
              head={['device', 'platform', 'provider', 'status', 'last status', 'token', 'last seen']}
              rows={load.result!.devices.map((d) => [<code>{d.id}</code>, d.platform, d.provider, d.status, d.lastStatus, d.token ?? '—', when(d.lastSeenAt)])}
              empty="No devices."
            />
          </section>
          <section aria-label="Export and erase">
            <h4>Export and erase</h4>
            <button type="button" class="secondary" onClick={() => void exportUser.run()}>
              Export (JSON download)
            </button>
            <ErrorBox error={exportUser.error} />
            {!asking ? (
              <button type="button" class="danger" onClick={() => setAsking(true)}>
                Erase this user…
              </button>
            ) : (
              <form
                class="confirm"
                role="alertdialog"
                aria-label="Confirm erasure"
                onSubmit={async (e) => {
                  e.preventDefault();
                  if (await erase.run()) setAsking(false);
                }}
              >
                <p>Erasing destroys this user's personal data and keys for good; their facts stay, unreadable. Type the user id to confirm.</p>
                <Field label="User id to erase">{(id) => <input id={id} value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />}</Field>
                <button type="submit" class="danger" disabled={confirm !== u.id || erase.busy}>
                  Erase for good
                </button>
                <button type="button" class="secondary" onClick={() => setAsking(false)}>
                  Keep the user
                </button>
              </form>
            )}
            <ErrorBox error={erase.error} />
            {erase.result ? <p role="status">The user was erased.</p> : null}
          </section>
        </>
      ) : null}
    </>
  );
}
