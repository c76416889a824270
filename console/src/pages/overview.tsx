import { useEffect } from 'preact/hooks';
import { call, enc } from '../api';
import { Bars, DailyChart, ErrorBox, useAction, usePageTiming, when, type PageProps } from '../ui';

interface DeviceStats {
  total?: number;
  computedAt: string;
  [group: string]: unknown;
}

const GROUPS = ['byStatus', 'byLastStatus', 'byPlatform', 'byProvider'];

export function OverviewPage({ session }: PageProps) {
  const stats = useAction(async () => (await call<DeviceStats>(session, 'GET', '/v1/stats/devices')).body);
  const daily = useAction(async () => (await call<{ days: { date: string; registered: number; invalidated: number; expired: number }[] }>(session, 'GET', '/v1/stats/devices/daily')).body);
  const pushes = useAction(async () => (await call<{ days: { date: string; sent: number; bounced: number; invalidated: number; delivered: number; opened: number }[] }>(session, 'GET', '/v1/stats/pushes/daily')).body);
  const pause = useAction(async () => (await call<{ paused: boolean; reason: string | null }>(session, 'GET', `/v1/apps/${enc(session.app!.id)}/sends`)).body);
  const resume = useAction(async () => {
    const { body } = await call<{ resumed: boolean }>(session, 'POST', `/v1/apps/${enc(session.app!.id)}/sends/resume`);
    await pause.run();
    return body;
  });
  const settled = (a: { result: unknown; error: unknown }) => a.result !== null || a.error !== null;
  usePageTiming('overview', settled(stats) && settled(daily) && settled(pushes));
  useEffect(() => {
    void stats.run();
    void daily.run();
    void pushes.run();
    void pause.run();
  }, []);
  const s = stats.result;
  const groupOf = (g: string) => (s && typeof s[g] === 'object' && s[g] !== null ? (s[g] as Record<string, number>) : null);
  return (
    <>
      <h2>Overview</h2>
      <section aria-label="Devices">
        <h3>Devices{s ? ` (${s.total ?? 0} in all, computed ${when(s.computedAt)})` : ''}</h3>
        <ErrorBox error={stats.error} />
        <div class="charts">{s ? GROUPS.map((g) => (groupOf(g) ? <Bars title={`Devices ${g.replace(/^by/, 'by ')}`} counts={groupOf(g)!} /> : null)) : <p>Counting…</p>}</div>
      </section>
      <section aria-label="Tokens per day">
        <h3>Tokens per day (last 30 days)</h3>
        <ErrorBox error={daily.error} />
        {daily.result ? <DailyChart title="Registered, invalidated and expired tokens" days={daily.result.days} series={['registered', 'invalidated', 'expired']} /> : null}
      </section>
      <section aria-label="Pushes per day">
        <h3>Pushes per day (last 30 days)</h3>
        <p class="muted">Outcomes count on the day delivery recorded them; delivered and opened on the day the app's receipt reports.</p>
        <ErrorBox error={pushes.error} />
        {pushes.result ? <DailyChart title="Sent, bounced, invalidated, delivered and opened" days={pushes.result.days} series={['sent', 'bounced', 'invalidated', 'delivered', 'opened']} /> : null}
      </section>
      <section aria-label="Paused sends">
        <h3>Paused sends</h3>
        <p>When most of a batch fails on the app's credentials, delivery pauses the app's sends until they are resumed (after fixing the credentials).</p>
        <ErrorBox error={pause.error} />
        {pause.result ? (
          <p role="status" class={pause.result.paused ? 'error' : undefined}>
            {pause.result.paused ? `Sends are paused: ${pause.result.reason}.` : 'Sends are not paused.'}
          </p>
        ) : null}
        <button type="button" disabled={resume.busy || !pause.result?.paused} onClick={() => void resume.run()}>
          Resume sends
        </button>
        <ErrorBox error={resume.error} />
        {resume.result ? <p role="status">{resume.result.resumed ? 'Sends resumed.' : 'No pause held: nothing to resume.'}</p> : null}
      </section>
    </>
  );
}
