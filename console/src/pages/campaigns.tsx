import { useEffect, useState } from 'preact/hooks';
import { call, enc } from '../api';
import { ErrorBox, Field, Json, Table, useAction, usePageTiming, when, type PageProps } from '../ui';

interface Campaign {
  id: string;
  name: string;
  kind: string;
  audience: unknown;
  content: { title: string; body: string; locales?: Record<string, { title?: string; body?: string }> };
  devicePolicy: string | null;
  topic: string | null;
  schedule: { at: string; localTime: boolean } | null;
  createdAt: string;
}

interface Send {
  messageId: string;
  wave?: unknown;
  status: string;
  dueAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  targeted: number;
  skipped: Record<string, number>;
}

interface Detail extends Campaign {
  sends: Send[];
  stats: Record<string, number | Record<string, number>>;
}

interface MessageStats {
  targeted: number;
  sent: number;
  bounced: number;
  invalidated: number;
  failed: number;
  delivered: number;
  opened: number;
}

const PAGE = 20;
const FINISHED = ['sent', 'failed', 'cancelled'];
const total = (skipped: Record<string, number> | number | undefined) => (typeof skipped === 'number' ? skipped : Object.values(skipped ?? {}).reduce((a, b) => a + b, 0));

interface Rendered {
  locale: string | null;
  title: string;
  body: string;
}
interface RenderedPreview {
  userId: string;
  content: Rendered;
  devices: (Rendered & { deviceId: string; platform: string })[];
}

function Compose({ session, onCreated }: PageProps & { onCreated: (c: Campaign) => void }) {
  const [f, setF] = useState({ name: '', kind: 'broadcast', title: '', body: '', imageUrl: '', link: '', audience: 'all', segmentId: '', rules: '', at: '', localTime: false, devicePolicy: '', topic: '', ttl: '', priority: '', collapseKey: '' });
  const [locales, setLocales] = useState<{ locale: string; title: string; body: string }[]>([]);
  const [previewUser, setPreviewUser] = useState('');
  const set = (k: keyof typeof f) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement }) =>
    setF({ ...f, [k]: e.currentTarget instanceof HTMLInputElement && e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value });
  const segments = useAction(async () => (await call<{ id: string; name: string | null }[]>(session, 'GET', '/v1/segments')).body);
  useEffect(() => void segments.run(), []);
  const create = useAction(async () => {
    const options = { ...(f.ttl ? { ttlSeconds: Number(f.ttl) } : {}), ...(f.priority ? { priority: f.priority } : {}), ...(f.collapseKey ? { collapseKey: f.collapseKey } : {}) };
    const body = {
      name: f.name,
      kind: f.kind,
      content: {
        title: f.title,
        ...(f.body ? { body: f.body } : {}),
        ...(f.imageUrl ? { imageUrl: f.imageUrl } : {}),
        ...(f.link ? { link: f.link } : {}),
        ...(locales.length ? { locales: Object.fromEntries(locales.filter((l) => l.locale).map((l) => [l.locale, { title: l.title, body: l.body }])) } : {}),
        ...(Object.keys(options).length ? { options } : {}),
      },
      ...(f.audience === 'segment' ? { audience: { segmentId: f.segmentId } } : f.audience === 'rules' ? { audience: { rules: JSON.parse(f.rules || '{}') } } : {}),
      ...(f.at && f.kind === 'broadcast' ? { schedule: { at: new Date(`${f.at}Z`).toISOString(), localTime: f.localTime } } : {}),
      ...(f.devicePolicy ? { devicePolicy: f.devicePolicy } : {}),
      ...(f.topic ? { topic: f.topic } : {}),
    };
    return (await call<Campaign>(session, 'POST', '/v1/campaigns', body)).body;
  });
  // Rendered by the API with the sender's own code: what the preview shows is what each device would get.
  const preview = useAction(async () => {
    const content = { title: f.title, ...(f.body ? { body: f.body } : {}), ...(locales.length ? { locales: Object.fromEntries(locales.filter((l) => l.locale).map((l) => [l.locale, { title: l.title, body: l.body }])) } : {}) };
    return (await call<RenderedPreview>(session, 'POST', '/v1/campaigns/preview', { content, userId: previewUser })).body;
  });
  return (
    <section aria-label="Compose a campaign">
      <h3>Compose</h3>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const c = await create.run();
          if (c) onCreated(c);
        }}
      >
        <div class="row">
          <Field label="Campaign name">{(id) => <input id={id} required value={f.name} onInput={set('name')} />}</Field>
          <Field label="Kind">
            {(id) => (
              <select id={id} value={f.kind} onChange={set('kind')}>
                <option value="broadcast">broadcast</option>
                <option value="transactional">transactional</option>
              </select>
            )}
          </Field>
        </div>
        <fieldset>
          <legend>Content</legend>
          <div class="row">
            <Field label="Title" hint="Placeholders: {{user.id}}, {{user.traits.name}}">{(id) => <input id={id} required value={f.title} onInput={set('title')} />}</Field>
            <Field label="Body">{(id) => <textarea id={id} rows={2} value={f.body} onInput={set('body')} />}</Field>
          </div>
          <div class="row">
            <Field label="Image URL">{(id) => <input id={id} type="url" value={f.imageUrl} onInput={set('imageUrl')} />}</Field>
            <Field label="Link">{(id) => <input id={id} value={f.link} onInput={set('link')} />}</Field>
          </div>
          {locales.map((l, i) => (
            <div class="row">
              <Field label={`Locale ${i + 1}`}>{(id) => <input id={id} placeholder="de-DE" value={l.locale} onInput={(e) => setLocales(locales.map((x, j) => (j === i ? { ...x, locale: e.currentTarget.value } : x)))} />}</Field>
              <Field label={`Locale ${i + 1} title`}>{(id) => <input id={id} value={l.title} onInput={(e) => setLocales(locales.map((x, j) => (j === i ? { ...x, title: e.currentTarget.value } : x)))} />}</Field>
              <Field label={`Locale ${i + 1} body`}>{(id) => <input id={id} value={l.body} onInput={(e) => setLocales(locales.map((x, j) => (j === i ? { ...x, body: e.currentTarget.value } : x)))} />}</Field>
              <button type="button" class="secondary" onClick={() => setLocales(locales.filter((_, j) => j !== i))}>
                Remove locale {i + 1}
              </button>
            </div>
          ))}
          <button type="button" class="secondary" onClick={() => setLocales([...locales, { locale: '', title: '', body: '' }])}>
            Add locale
          </button>
        </fieldset>
        <fieldset>
          <legend>Audience</legend>
          <div class="row">
            <Field label="Audience">
              {(id) => (
                <select id={id} value={f.audience} onChange={set('audience')}>
                  <option value="all">Every user with an eligible device</option>
                  <option value="segment">A saved segment</option>
                  <option value="rules">Rules (JSON)</option>
                </select>
              )}
            </Field>
            {f.audience === 'segment' ? (
              <Field label="Segment">
                {(id) => (
                  <select id={id} required value={f.segmentId} onChange={set('segmentId')}>
                    <option value="">—</option>
                    {(segments.result ?? []).map((s) => (
                      <option value={s.id}>{s.name ?? s.id}</option>
                    ))}
                  </select>
                )}
              </Field>
            ) : null}
            {f.audience === 'rules' ? <Field label="Rules (JSON)">{(id) => <textarea id={id} rows={3} value={f.rules} onInput={set('rules')} />}</Field> : null}
          </div>
        </fieldset>
        <fieldset>
          <legend>Schedule and delivery</legend>
          <div class="row">
            <Field label="Send at (UTC, empty: when sent)">{(id) => <input id={id} type="datetime-local" value={f.at} onInput={set('at')} />}</Field>
            <label class="check">
              <input type="checkbox" checked={f.localTime} onChange={set('localTime')} /> At this time in each user's time zone
            </label>
            <Field label="Device policy">
              {(id) => (
                <select id={id} value={f.devicePolicy} onChange={set('devicePolicy')}>
                  <option value="">the app's setting</option>
                  <option value="all">all</option>
                  <option value="last_active">last_active</option>
                  <option value="most_recent">most_recent</option>
                </select>
              )}
            </Field>
            <Field label="Topic">{(id) => <input id={id} value={f.topic} onInput={set('topic')} />}</Field>
          </div>
          <div class="row">
            <Field label="Time to live (seconds)">{(id) => <input id={id} type="number" min="0" value={f.ttl} onInput={set('ttl')} />}</Field>
            <Field label="Priority">
              {(id) => (
                <select id={id} value={f.priority} onChange={set('priority')}>
                  <option value="">default</option>
                  <option value="high">high</option>
                  <option value="normal">normal</option>
                </select>
              )}
            </Field>
            <Field label="Collapse key">{(id) => <input id={id} value={f.collapseKey} onInput={set('collapseKey')} />}</Field>
          </div>
        </fieldset>
        <div class="row">
          <Field label="Preview for user id">{(id) => <input id={id} value={previewUser} onInput={(e) => setPreviewUser(e.currentTarget.value)} />}</Field>
          <button type="button" class="secondary" disabled={!previewUser} onClick={() => void preview.run()}>
            Preview
          </button>
          <button type="submit" disabled={create.busy}>
            Create campaign
          </button>
        </div>
        <ErrorBox error={preview.error} />
        {preview.result ? (
          <div aria-label="Rendered preview">
            {(preview.result.devices.length ? preview.result.devices : [{ ...preview.result.content, deviceId: null, platform: null }]).map((r) => (
              <div class="notification">
                <strong>{r.title}</strong>
                <p>{r.body}</p>
                <small>
                  {r.deviceId ? `${r.platform} device ${r.deviceId}, ` : 'no device, '}locale: {r.locale ?? 'default'}
                </small>
              </div>
            ))}
          </div>
        ) : null}
        <ErrorBox error={create.error} />
      </form>
    </section>
  );
}

function CampaignDetail({ session, id }: PageProps & { id: string }) {
  const detail = useAction(async () => (await call<Detail>(session, 'GET', `/v1/campaigns/${enc(id)}`)).body);
  const [perSend, setPerSend] = useState<Record<string, MessageStats>>({});
  const send = useAction(async () => (await call<Send>(session, 'POST', `/v1/campaigns/${enc(id)}/send`, {})).body);
  const cancel = useAction(async (messageId: string) => (await call<unknown>(session, 'POST', `/v1/campaigns/${enc(id)}/sends/${enc(messageId)}/cancel`, {})).body);
  const refresh = async () => {
    const d = await detail.run();
    if (!d) return;
    const stats = await Promise.all(d.sends.map((s) => call<MessageStats>(session, 'GET', `/v1/messages/${enc(s.messageId)}/stats`).then((a) => [s.messageId, a.body] as const, () => null)));
    setPerSend(Object.fromEntries(stats.filter((x) => x !== null)));
  };
  // Counts rise while a send runs: read them again every two seconds while the campaign is open.
  useEffect(() => {
    void refresh();
    const t = setInterval(() => void refresh(), 2000);
    return () => clearInterval(t);
  }, [id]);
  const d = detail.result;
  return (
    <section aria-label={`Campaign ${id}`}>
      <h3>Campaign {d?.name ?? id}</h3>
      <ErrorBox error={detail.error} />
      <div class="row">
        <button type="button" disabled={send.busy} onClick={async () => (await send.run()) && (await refresh())}>
          Send campaign
        </button>
      </div>
      <ErrorBox error={send.error} />
      {d ? (
        <>
          <dl class="grid stats" aria-label="Campaign counts">
            {Object.entries(d.stats).map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd data-stat={k}>{typeof v === 'number' ? v : total(v)}</dd>
              </>
            ))}
          </dl>
          <ErrorBox error={cancel.error} />
          <Table
            caption="Sends and waves"
            head={['message', 'wave', 'status', 'due', 'finished', 'targeted', 'skipped', 'sent', 'delivered', 'opened', 'bounced', 'invalidated', '']}
            rows={d.sends.map((s) => {
              const m = perSend[s.messageId];
              return [
                <code>{s.messageId}</code>,
                s.wave === undefined ? '—' : typeof s.wave === 'object' ? JSON.stringify(s.wave) : String(s.wave),
                s.status,
                when(s.dueAt),
                when(s.finishedAt),
                String(s.targeted),
                String(total(s.skipped)),
                String(m?.sent ?? 0),
                String(m?.delivered ?? 0),
                String(m?.opened ?? 0),
                String(m?.bounced ?? 0),
                String(m?.invalidated ?? 0),
                FINISHED.includes(s.status) ? (
                  ''
                ) : (
                  <button type="button" class="danger" aria-label={`Cancel send ${s.messageId}`} onClick={async () => (await cancel.run(s.messageId)) && (await refresh())}>
                    Cancel
                  </button>
                ),
              ];
            })}
            empty="Not sent yet."
          />
          <details>
            <summary>Definition</summary>
            <Json value={{ audience: d.audience, content: d.content, schedule: d.schedule, devicePolicy: d.devicePolicy, topic: d.topic }} />
          </details>
        </>
      ) : null}
    </section>
  );
}

export function CampaignsPage({ session }: PageProps) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [selected, setSelected] = useState<string | null>(null);
  const [composing, setComposing] = useState(false);
  const page = useAction(async (after: string | null) => call<Campaign[]>(session, 'GET', `/v1/campaigns?limit=${PAGE}${after ? `&after=${enc(after)}` : ''}`));
  usePageTiming('campaigns', page.result !== null || page.error !== null);
  useEffect(() => void page.run(null), []);
  return (
    <>
      <h2>Campaigns</h2>
      <div class="row">
        <button type="button" onClick={() => setComposing(!composing)} aria-expanded={composing}>
          {composing ? 'Close the composer' : 'New campaign'}
        </button>
      </div>
      {composing ? (
        <Compose
          session={session}
          onCreated={(c) => {
            setComposing(false);
            setSelected(c.id);
            setCursors([null]);
            void page.run(null);
          }}
        />
      ) : null}
      {selected ? <CampaignDetail session={session} id={selected} key={selected} /> : null}
      <section aria-label="Campaign list">
        <h3>All campaigns</h3>
        <ErrorBox error={page.error} />
        <Table
          caption={`Campaigns, newest first (page ${cursors.length})`}
          head={['name', 'kind', 'schedule', 'created', '']}
          rows={(page.result?.body ?? []).map((c) => [
            c.name,
            c.kind,
            c.schedule ? `${when(c.schedule.at)}${c.schedule.localTime ? ' local' : ''}` : '—',
            when(c.createdAt),
            <button type="button" class="secondary" aria-label={`Open campaign ${c.name}`} onClick={() => setSelected(c.id)}>
              Open
            </button>,
          ])}
          empty="No campaigns yet."
        />
        <div class="row">
          <button type="button" class="secondary" disabled={cursors.length < 2} onClick={() => (setCursors(cursors.slice(0, -1)), void page.run(cursors[cursors.length - 2]))}>
            Previous page
          </button>
          <button type="button" class="secondary" disabled={!page.result?.next} onClick={() => (setCursors([...cursors, page.result!.next]), void page.run(page.result!.next))}>
            Next page
          </button>
        </div>
      </section>
    </>
  );
}
