import { pageInCreationOrder, type CreationKey, type PagedV1 } from './list-page';

describe('pageInCreationOrder', () => {
  const items = [
    { id: 'b', createdAt: '2026-12-01T00:00:00.000Z' },
    { id: 'a', createdAt: '2026-12-01T00:00:00.000Z' },
    { id: 'c', createdAt: '2026-11-30T00:00:00.000Z' },
    { id: 'd', createdAt: '2026-12-02T00:00:00.000Z' },
  ];

  it('walks every item once, oldest first (ties by id), a page at a time', () => {
    const seen: string[] = [];
    let after: CreationKey | null = null;
    let pages = 0;
    do {
      const page: PagedV1<(typeof items)[number]> = pageInCreationOrder(items, { limit: 3, after });
      seen.push(...page.items.map((i) => i.id));
      after = page.next;
      pages++;
    } while (after);
    expect({ seen, pages }).toEqual({ seen: ['c', 'a', 'b', 'd'], pages: 2 });
  });

  it('answers everything without a page, and no next key when the last page is exactly full', () => {
    expect(pageInCreationOrder(items, undefined)).toEqual({ items: [items[2], items[1], items[0], items[3]], next: null });
    expect(pageInCreationOrder(items, { limit: 4, after: null }).next).toBeNull();
    expect(pageInCreationOrder(items, { limit: 2, after: null }).next).toEqual(['2026-12-01T00:00:00.000Z', 'a']);
    expect(pageInCreationOrder([], { limit: 2, after: null })).toEqual({ items: [], next: null });
  });
});
