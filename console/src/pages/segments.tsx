import { useEffect, useRef, useState } from 'preact/hooks';
import { call, describe } from '../api';
import { ErrorBox, Field, Json, Table, useAction, usePageTiming, when, type PageProps } from '../ui';

/** The rule language of the API (see the OpenAPI page): groups, negation and three kinds of condition. */
export type Rule =
  | { all: Rule[] }
  | { any: Rule[] }
  | { not: Rule }
  | { trait: string; op: string; value?: unknown }
  | { device: string; op: string; value?: unknown }
  | { eligibleDevice: true };

const OPS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'exists', 'contains', 'semver_lt', 'semver_gte', 'within_days', 'older_than_days'];
const DEVICE_ATTRIBUTES = ['platform', 'provider', 'model', 'osVersion', 'appVersion', 'locale', 'timezone', 'pushEnabled', 'lastSeenAt', 'registeredAt', 'status', 'lastStatus'];

/** A value as typed: numbers, true/false and null as themselves; a comma list for `in`. */
function parseValue(op: string, text: string): unknown {
  const one = (t: string): unknown => {
    const v = t.trim();
    if (v === 'true' || v === 'false') return v === 'true';
    if (v === 'null') return null;
    if (v !== '' && !Number.isNaN(Number(v)) && !/^0\d/.test(v)) return Number(v);
    return v;
  };
  return op === 'in' ? text.split(',').map(one) : one(text);
}
const showValue = (v: unknown) => (Array.isArray(v) ? v.join(', ') : v === undefined ? '' : String(v));

function Condition({ rule, onChange, path }: { rule: Rule; onChange: (r: Rule) => void; path: string }) {
  const kind = 'trait' in rule ? 'trait' : 'device' in rule ? 'device' : 'eligible';
  const r = rule as { trait?: string; device?: string; op?: string; value?: unknown };
  const op = r.op ?? 'eq';
  const set = (next: { kind?: string; name?: string; op?: string; value?: string }) => {
    const k = next.kind ?? kind;
    if (k === 'eligible') return onChange({ eligibleDevice: true });
    const name = next.name ?? (k === kind ? (r.trait ?? r.device ?? '') : k === 'device' ? 'platform' : '');
    const o = next.op ?? op;
    const valueText = next.value ?? showValue(r.value);
    const value = o === 'exists' ? undefined : parseValue(o, valueText);
    onChange(k === 'trait' ? { trait: name, op: o, ...(value === undefined ? {} : { value }) } : { device: name, op: o, ...(value === undefined ? {} : { value }) });
  };
  return (
    <div class="condition row">
      <Field label={`Condition ${path}: kind`}>
        {(id) => (
          <select id={id} value={kind} onChange={(e) => set({ kind: e.currentTarget.value })}>
            <option value="trait">User trait</option>
            <option value="device">Device attribute</option>
            <option value="eligible">Has an eligible device</option>
          </select>
        )}
      </Field>
      {kind === 'trait' ? (
        <Field label={`Condition ${path}: trait`}>{(id) => <input id={id} value={r.trait ?? ''} onInput={(e) => set({ name: e.currentTarget.value })} />}</Field>
      ) : null}
      {kind === 'device' ? (
        <Field label={`Condition ${path}: attribute`}>
          {(id) => (
            <select id={id} value={r.device} onChange={(e) => set({ name: e.currentTarget.value })}>
              {DEVICE_ATTRIBUTES.map((a) => (
                <option value={a}>{a}</option>
              ))}
            </select>
          )}
        </Field>
      ) : null}
      {kind !== 'eligible' ? (
        <>
          <Field label={`Condition ${path}: operator`}>
            {(id) => (
              <select id={id} value={op} onChange={(e) => set({ op: e.currentTarget.value })}>
                {OPS.map((o) => (
                  <option value={o}>{o}</option>
                ))}
              </select>
            )}
          </Field>
          {op !== 'exists' ? (
            <Field label={`Condition ${path}: value`}>{(id) => <input id={id} value={showValue(r.value)} onInput={(e) => set({ value: e.currentTarget.value })} />}</Field>
          ) : null}
        </>
      ) : null}
    </div>
  );
}

function Node({ rule, onChange, onRemove, path }: { rule: Rule; onChange: (r: Rule) => void; onRemove?: () => void; path: string }) {
  const negated = 'not' in rule;
  const inner = negated ? (rule as { not: Rule }).not : rule;
  const wrap = (r: Rule, neg = negated): Rule => (neg ? { not: r } : r);
  const group = 'all' in inner ? 'all' : 'any' in inner ? 'any' : null;
  const children = group ? (inner as Record<string, Rule[]>)[group] : [];
  const setChildren = (list: Rule[]) => onChange(wrap({ [group!]: list } as Rule));
  return (
    <fieldset class="node">
      <legend>{group ? `Group ${path}` : `Rule ${path}`}</legend>
      <div class="row">
        <label class="check">
          <input type="checkbox" checked={negated} onChange={(e) => onChange(wrap(inner, e.currentTarget.checked))} /> Not ({path})
        </label>
        {group ? (
          <Field label={`Group ${path}: match`}>
            {(id) => (
              <select id={id} value={group} onChange={(e) => onChange(wrap({ [e.currentTarget.value]: children } as Rule))}>
                <option value="all">all of</option>
                <option value="any">any of</option>
              </select>
            )}
          </Field>
        ) : null}
        {onRemove ? (
          <button type="button" class="secondary" onClick={onRemove}>
            Remove {path}
          </button>
        ) : null}
      </div>
      {group ? (
        <>
          {children.map((c, i) => (
            <Node
              rule={c}
              path={`${path}.${i + 1}`}
              onChange={(r) => setChildren(children.map((x, j) => (j === i ? r : x)))}
              onRemove={() => setChildren(children.filter((_, j) => j !== i))}
            />
          ))}
          <div class="row">
            <button type="button" class="secondary" onClick={() => setChildren([...children, { trait: '', op: 'eq', value: '' }])}>
              Add condition to {path}
            </button>
            <button type="button" class="secondary" onClick={() => setChildren([...children, { any: [] }])}>
              Add group to {path}
            </button>
          </div>
        </>
      ) : (
        <Condition rule={inner} path={path} onChange={(r) => onChange(wrap(r))} />
      )}
    </fieldset>
  );
}

interface Preview {
  count: number;
  sample: string[];
  /** Present when the count was scaled up from some partitions. */
  estimate?: { partitionsCounted: number; partitions: number; margin: number };
}

interface Segment {
  id: string;
  name: string | null;
  version: number;
  rules: Rule;
  updatedAt: string;
}

/** A rule tree with empty groups or nameless traits taken out, as the API would refuse them. */
function usable(rule: Rule): boolean {
  if ('all' in rule) return rule.all.length > 0 && rule.all.every(usable);
  if ('any' in rule) return rule.any.length > 0 && rule.any.every(usable);
  if ('not' in rule) return usable(rule.not);
  if ('trait' in rule) return rule.trait.trim() !== '';
  return true;
}

export function SegmentsPage({ session }: PageProps) {
  const [rules, setRules] = useState<Rule>({ all: [{ eligibleDevice: true }] });
  const [name, setName] = useState('');
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const list = useAction(async () => (await call<Segment[]>(session, 'GET', '/v1/segments')).body);
  const save = useAction(async () => (await call<Segment>(session, 'POST', '/v1/segments', { name: name || null, rules })).body);
  const shown = useRef('');
  shown.current = JSON.stringify(rules);
  const exact = useAction(async () => {
    const asked = shown.current;
    const answer = (await call<Preview>(session, 'POST', '/v1/segments/preview', { rules })).body;
    // Rules edited meanwhile: the live count of the new ones is on its way; this one is of the old.
    if (shown.current === asked) setPreview(answer);
    return answer;
  });
  usePageTiming('segments', list.result !== null || list.error !== null);
  useEffect(() => void list.run(), []);
  // Live count: the preview follows the builder, a moment after the last change.
  useEffect(() => {
    if (!usable(rules)) {
      setPreview(null);
      setPreviewError(new Error('Complete the rules to see a count.'));
      return;
    }
    let stale = false;
    const t = setTimeout(() => {
      // Estimated: a live count must answer while the rules are edited, at any number of users.
      call<Preview>(session, 'POST', '/v1/segments/preview', { rules, estimate: true }).then(
        (a) => !stale && (setPreview(a.body), setPreviewError(null)),
        (e) => !stale && setPreviewError(e),
      );
    }, 350);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [JSON.stringify(rules)]);
  return (
    <>
      <h2>Segments</h2>
      <section aria-label="Segment builder">
        <h3>Builder</h3>
        <Node rule={rules} onChange={setRules} path="1" />
        <div class="preview" aria-live="polite">
          {preview ? (
            <p>
              Matching users: {preview.estimate ? 'about ' : ''}
              <strong data-testid="segment-count">{preview.count}</strong>
              {preview.estimate ? ` (± ${preview.estimate.margin} at 95%, from ${preview.estimate.partitionsCounted} of ${preview.estimate.partitions} partitions) ` : ''}
              {preview.estimate ? (
                <button type="button" disabled={exact.busy} onClick={() => void exact.run()}>
                  {exact.busy ? 'Counting exactly…' : 'Count exactly'}
                </button>
              ) : null}
              {preview.sample.length ? ` — e.g. ${preview.sample.join(', ')}` : ''}
            </p>
          ) : (
            <p>{previewError ? describe(previewError) : 'Counting…'}</p>
          )}
          <ErrorBox error={exact.error} />
        </div>
        <details>
          <summary>Rules as JSON</summary>
          <Json value={rules} label="Rules as JSON" />
        </details>
        <form
          class="row"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save.run()) await list.run();
          }}
        >
          <Field label="Segment name">{(id) => <input id={id} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
          <button type="submit" disabled={save.busy}>
            Save segment
          </button>
        </form>
        <ErrorBox error={save.error} />
        {save.result ? <p role="status">Saved segment {save.result.id} (version {save.result.version}).</p> : null}
      </section>
      <section aria-label="Saved segments">
        <h3>Saved segments</h3>
        <ErrorBox error={list.error} />
        <Table
          caption="The app's segments"
          head={['id', 'name', 'version', 'updated', '']}
          rows={(list.result ?? []).map((s) => [
            <code>{s.id}</code>,
            s.name ?? '—',
            String(s.version),
            when(s.updatedAt),
            <button type="button" class="secondary" onClick={() => (setRules(s.rules), setName(s.name ?? ''))} aria-label={`Edit rules of ${s.name ?? s.id}`}>
              Load into builder
            </button>,
          ])}
          empty="No segments yet."
        />
      </section>
    </>
  );
}
