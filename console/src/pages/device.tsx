import { useState } from 'preact/hooks';
import { call, enc } from '../api';
import { ErrorBox, Field, Json, Table, useAction, usePageTiming, when, type PageProps } from '../ui';

export interface Device {
  id: string;
  userId: string | null;
  platform: string;
  provider: string;
  token: string | null;
  status: string;
  lastStatus: string;
  pushEnabled: boolean | null;
  model: string | null;
  osVersion: string | null;
  appVersion: string | null;
  locale: string | null;
  timezone: string | null;
  registeredAt: string;
  lastSeenAt: string;
  revision: number;
}

interface Fact {
  type: string;
  occurredAt: string;
  position: string | number;
  data: unknown;
}

const TIMELINE_PAGE = 100;

const FIELDS: (keyof Device)[] = ['id', 'userId', 'platform', 'provider', 'token', 'status', 'lastStatus', 'pushEnabled', 'model', 'osVersion', 'appVersion', 'locale', 'timezone', 'registeredAt', 'lastSeenAt', 'revision'];

export function DeviceView({ device, title }: { device: Device; title: string }) {
  return (
    <section aria-label={title}>
      <h3>{title}</h3>
      <dl class="grid">
        {FIELDS.map((f) => (
          <>
            <dt>{f}</dt>
            <dd>{device[f] === null || device[f] === undefined ? '—' : String(device[f])}</dd>
          </>
        ))}
      </dl>
    </section>
  );
}

/** ISO time from a datetime-local value, read as UTC (the timeline shows UTC too). */
const utc = (local: string) => (local ? new Date(`${local}Z`).toISOString() : '');

export function DevicePage({ session }: PageProps) {
  const [by, setBy] = useState<'deviceId' | 'userId' | 'token'>('deviceId');
  const [value, setValue] = useState('');
  const [asOf, setAsOf] = useState('');
  usePageTiming('device', true);
  const lookup = useAction(async () => {
    if (by === 'userId') {
      const { body } = await call<Device[]>(session, 'GET', `/v1/users/${enc(value)}/devices`);
      return { list: body, device: null as Device | null };
    }
    const { body } =
      by === 'token' ? await call<Device>(session, 'POST', '/v1/devices/lookup', { token: value }) : await call<Device>(session, 'GET', `/v1/devices/${enc(value)}`);
    return { list: null, device: body };
  });
  const [selected, setSelected] = useState<Device | null>(null);
  // The timeline grows a page at a time (oldest first): a device with a long history never loads whole.
  const timeline = useAction(async (deviceId: string, after: string | null = null, before: Fact[] = []) => {
    const { body, next } = await call<Fact[]>(session, 'GET', `/v1/devices/${enc(deviceId)}/events?limit=${TIMELINE_PAGE}${after ? `&after=${enc(after)}` : ''}`);
    return { facts: [...before, ...body], next };
  });
  const then = useAction(async (deviceId: string, at: string) => (await call<Device>(session, 'GET', `/v1/devices/${enc(deviceId)}?asOf=${enc(at)}`)).body);
  const open = async (device: Device) => {
    then.set(null);
    setSelected(device);
    await timeline.run(device.id);
  };
  return (
    <>
      <h2>Device</h2>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          timeline.set(null);
          then.set(null);
          setSelected(null);
          const found = await lookup.run();
          if (found?.device) await open(found.device);
        }}
      >
        <Field label="Look up by">
          {(id) => (
            <select id={id} value={by} onChange={(e) => setBy(e.currentTarget.value as typeof by)}>
              <option value="deviceId">Device id</option>
              <option value="userId">User id</option>
              <option value="token">Push token</option>
            </select>
          )}
        </Field>
        <Field label={by === 'token' ? 'Push token' : by === 'userId' ? 'User id' : 'Device id'} hint={by === 'token' ? 'Sent in a request body, never in a URL.' : undefined}>
          {(id) => <input id={id} required type={by === 'token' ? 'password' : 'text'} autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={lookup.busy}>
          Look up
        </button>
      </form>
      <ErrorBox error={lookup.error} />
      {lookup.result?.list ? (
        <Table
          caption="The user's devices"
          head={['device', 'platform', 'status', 'token', '']}
          rows={lookup.result.list.map((d) => [
            <code>{d.id}</code>,
            d.platform,
            d.status,
            d.token ?? '—',
            <button type="button" onClick={() => open(d)} aria-label={`Open device ${d.id}`}>
              Open
            </button>,
          ])}
          empty="This user has no devices."
        />
      ) : null}
      {selected ? <DeviceView device={selected} title="Device now" /> : null}
      <ErrorBox error={timeline.error} />
      {timeline.result && selected ? (
        <section aria-label="Timeline">
          <h3>
            Timeline ({timeline.result.facts.length} facts{timeline.result.next ? ' so far' : ''}, oldest first)
          </h3>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              void then.run(selected.id, utc(asOf));
            }}
          >
            <Field label="Device as of (UTC)">
              {(id) => <input id={id} type="datetime-local" step="1" required value={asOf} onInput={(e) => setAsOf(e.currentTarget.value)} />}
            </Field>
            <button type="submit">Show as of</button>
          </form>
          <ErrorBox error={then.error} />
          {then.result ? <DeviceView device={then.result} title="Device as of the chosen time" /> : null}
          <Table
            caption="Every fact of the device"
            head={['time (UTC)', 'fact', 'position', 'data', '']}
            rows={timeline.result.facts.map((f) => [
              when(f.occurredAt),
              <strong>{f.type}</strong>,
              String(f.position),
              <details>
                <summary>data</summary>
                <Json value={f.data} />
              </details>,
              <button
                type="button"
                class="secondary"
                aria-label={`Device as of ${f.type} at ${f.occurredAt}`}
                onClick={() => {
                  setAsOf(f.occurredAt.replace(/(\.\d+)?Z$/, ''));
                  void then.run(selected.id, f.occurredAt);
                }}
              >
                As of this
              </button>,
            ])}
          />
          {timeline.result.next ? (
            <button type="button" class="secondary" disabled={timeline.busy} onClick={() => void timeline.run(selected.id, timeline.result!.next, timeline.result!.facts)}>
              Show later facts
            </button>
          ) : null}
        </section>
      ) : null}
    </>
  );
}

