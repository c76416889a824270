import { pushExtrasOf, type PushContentV1, type PushExtrasV1 } from '@pushledger/contracts';

export interface LocalizedContent extends PushExtrasV1 {
  title: string;
  body: string;
  imageUrl?: string | null;
  data?: Record<string, string>;
  /** Per-locale overrides: `fr`, `fr-CA`, ... picked by the device locale (exact, then language). */
  locales?: Record<string, { title?: string; body?: string }>;
}

export interface TemplateScope {
  user?: { id?: string | null; traits?: Record<string, unknown> };
  event?: { name?: string; properties?: Record<string, unknown> };
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z_][\w.]*)\s*(?:\|\s*default\s*:\s*"([^"]*)"\s*)?\}\}/g;
const ALLOWED_ROOTS = ['user.traits.', 'user.id', 'event.properties.', 'event.name'];

/** Placeholders a template uses that it may not: only user traits/id and event properties/name. */
export function invalidPlaceholders(text: string): string[] {
  const bad: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) if (!ALLOWED_ROOTS.some((r) => m[1] === r || m[1].startsWith(r))) bad.push(m[1]);
  const unclosed = text.replace(PLACEHOLDER, '').match(/\{\{|\}\}/);
  if (unclosed) bad.push('unbalanced braces');
  return bad;
}

function lookup(scope: TemplateScope, path: string): unknown {
  let v: unknown = scope;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** `{{user.traits.first_name | default: "there"}}`; output is plain text (push payloads are not HTML). */
export function renderText(text: string, scope: TemplateScope): string {
  return text.replace(PLACEHOLDER, (_, path: string, fallback: string | undefined) => {
    const v = lookup(scope, path);
    if (v === undefined || v === null || v === '') return fallback ?? '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

export function pickLocale(content: LocalizedContent, locale: string | null): { title: string; body: string } {
  const base = { title: content.title, body: content.body };
  if (!locale || !content.locales) return base;
  const normalized = locale.replace('_', '-');
  const exact = Object.keys(content.locales).find((k) => k.toLowerCase() === normalized.toLowerCase());
  const lang = normalized.split('-')[0].toLowerCase();
  const byLang = Object.keys(content.locales).find((k) => k.toLowerCase() === lang);
  const chosen = content.locales[exact ?? byLang ?? ''];
  return chosen ? { title: chosen.title ?? base.title, body: chosen.body ?? base.body } : base;
}

export function render(content: LocalizedContent, scope: TemplateScope, locale: string | null): PushContentV1 {
  const text = pickLocale(content, locale);
  return { title: renderText(text.title, scope), body: renderText(text.body, scope), imageUrl: content.imageUrl ?? null, data: content.data ?? {}, ...pushExtrasOf(content) };
}

export function usesPlaceholders(content: LocalizedContent): boolean {
  const all = [content.title, content.body, ...Object.values(content.locales ?? {}).flatMap((l) => [l.title ?? '', l.body ?? ''])];
  return all.some((t) => /\{\{/.test(t));
}
