import { InMemoryKeyStore } from './key-store.port';
import { RecipientSeals } from './recipient-seals';
import { seal } from './sealing';

describe('RecipientSeals', () => {
  const recipient = (n: number) => ({ token: `tok-${n}:${'x'.repeat(40)}`, userId: `user-${n}`, content: { title: 'Hi', body: `for user-${n}` } });

  it('seals each recipient with its own device key: nothing of it is readable in the sealed form, and it opens again', async () => {
    const seals = new RecipientSeals(new InMemoryKeyStore());
    const sealed = await seals.seal('app_a', [{ deviceId: 'd1', value: recipient(1) }, { deviceId: 'd2', value: recipient(2) }]);
    const text = JSON.stringify(sealed);
    for (const secret of ['tok-1', 'tok-2', 'user-1', 'user-2', 'for user']) expect(text).not.toContain(secret);
    expect(sealed[0].$enc.split('.')[1]).not.toBe(sealed[1].$enc.split('.')[1]);
    expect(await seals.open(sealed)).toEqual([recipient(1), recipient(2)]);
  });

  it('a recipient whose device key was destroyed (its user erased) no longer opens; the others still do', async () => {
    const keys = new InMemoryKeyStore();
    const seals = new RecipientSeals(keys);
    const sealed = await seals.seal('app_a', [{ deviceId: 'd1', value: recipient(1) }, { deviceId: 'd2', value: recipient(2) }]);
    await keys.destroy('app_a', 'user-1-pseudonym', ['d1']);
    expect(await seals.open(sealed)).toEqual([undefined, recipient(2)]);
  });

  it('a value sealed as another field, or with another key, does not open as a recipient', async () => {
    const keys = new InMemoryKeyStore();
    const seals = new RecipientSeals(keys);
    const [{ kid, key }] = await keys.keysFor([{ appId: 'app_a', kind: 'device', subject: 'd1' }]);
    const asToken = seal(recipient(1), 'token', kid, key!);
    const [sealed] = await seals.seal('app_a', [{ deviceId: 'd1', value: recipient(1) }]);
    const [, , body] = sealed.$enc.split('.');
    const [other] = await seals.seal('app_a', [{ deviceId: 'd2', value: recipient(2) }]);
    const swapped = { $enc: `v1.${other.$enc.split('.')[1]}.${body}` };
    expect(await seals.open([asToken, swapped, { $enc: 'nonsense' }])).toEqual([undefined, undefined, undefined]);
  });
});
