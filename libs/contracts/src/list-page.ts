/** The sort key of lists kept in creation order: (createdAt, id), oldest first. */
export type CreationKey = [createdAt: string, id: string];

/** A page of such a list: at most `limit` items after the key `after` (null: from the start). */
export interface ListPageV1 {
  limit: number;
  after: CreationKey | null;
}

/** The page's items, and the key to ask the next page after (null: this was the last). */
export interface PagedV1<T> {
  items: T[];
  next: CreationKey | null;
}

const byCreation = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/** One page of a list held whole in memory (a page over every item when `page` is absent). */
export function pageInCreationOrder<T extends { createdAt: string; id: string }>(items: readonly T[], page: ListPageV1 | undefined): PagedV1<T> {
  const after = page?.after ? { createdAt: page.after[0], id: page.after[1] } : null;
  const rest = items.filter((i) => !after || byCreation(i, after) > 0).sort(byCreation);
  const limit = page?.limit ?? rest.length;
  const shown = rest.slice(0, limit);
  const last = shown[shown.length - 1];
  return { items: shown, next: rest.length > limit && last ? [last.createdAt, last.id] : null };
}
