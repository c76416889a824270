import { invalidPlaceholders, pickLocale, render, renderText } from './templates';

describe('templates', () => {
  it('fills user traits and event properties, with a default for missing values', () => {
    const scope = { user: { id: 'u1', traits: { first_name: 'Ada', plan: { tier: 'gold' } } }, event: { name: 'cart_abandoned', properties: { item: 'Lamp' } } };
    expect(renderText('Hi {{user.traits.first_name}}, your {{ event.properties.item }} is waiting', scope)).toBe('Hi Ada, your Lamp is waiting');
    expect(renderText('Hi {{user.traits.nickname | default: "there"}}', scope)).toBe('Hi there');
    expect(renderText('Hi {{user.traits.nickname}}!', scope)).toBe('Hi !');
    expect(renderText('{{user.traits.plan}}', scope)).toBe('{"tier":"gold"}');
  });

  it('does not interpret HTML: markup stays text', () => {
    expect(renderText('<b>{{user.traits.x}}</b>', { user: { traits: { x: '<script>' } } })).toBe('<b><script></b>');
  });

  it('rejects placeholders outside user and event, and unbalanced braces', () => {
    expect(invalidPlaceholders('Hi {{user.traits.name}} {{event.properties.a}}')).toEqual([]);
    expect(invalidPlaceholders('{{process.env.SECRET}}')).toEqual(['process.env.SECRET']);
    expect(invalidPlaceholders('Hi {{user.traits.name')).toEqual(['unbalanced braces']);
  });

  it('picks content by the device locale: exact tag, then language, then the default', () => {
    const c = { title: 'Hello', body: 'Welcome', locales: { fr: { title: 'Bonjour', body: 'Bienvenue' }, 'pt-BR': { title: 'Olá' } } };
    expect(pickLocale(c, 'fr-CA')).toEqual({ title: 'Bonjour', body: 'Bienvenue' });
    expect(pickLocale(c, 'pt_BR')).toEqual({ title: 'Olá', body: 'Welcome' });
    expect(pickLocale(c, 'de-DE')).toEqual({ title: 'Hello', body: 'Welcome' });
    expect(pickLocale(c, null)).toEqual({ title: 'Hello', body: 'Welcome' });
    expect(render(c, {}, 'fr')).toEqual({ title: 'Bonjour', body: 'Bienvenue', imageUrl: null, data: {} });
  });
});
