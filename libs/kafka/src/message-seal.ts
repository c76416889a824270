import { createCipheriv, createDecipheriv, randomBytes } from 'crypto';
import type { PushledgerConfig } from '@pushledger/config';

type SecretKey = NonNullable<PushledgerConfig['secretKey']>;

const VERSION = 'v1';

export class UnsealableMessageError extends Error {}

/**
 * Values of the topics between our services that carry commands and their replies (tokens, user ids, traits,
 * exports): `{ "$sealed": "v1.<kid>.<iv|tag|ciphertext>" }`, AES-256-GCM under PUSHLEDGER_SECRET_KEY with the
 * topic's kind as associated data. Without a key configured they travel as plain JSON, as before. Opening takes
 * either form, so messages written before sealing (or by a producer without a key) are still read.
 */
export class MessageSeal {
  constructor(
    private readonly secret: SecretKey | undefined,
    private readonly kind: 'command' | 'reply',
  ) {}

  static of(config: Pick<PushledgerConfig, 'secretKey'>, kind: 'command' | 'reply'): MessageSeal {
    return new MessageSeal(config.secretKey, kind);
  }

  seal(value: unknown): string {
    const json = JSON.stringify(value);
    if (!this.secret) return json;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.secret.key, iv);
    cipher.setAAD(this.aad(this.secret.kid));
    const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    return JSON.stringify({ $sealed: `${VERSION}.${this.secret.kid}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}` });
  }

  /** The value; throws SyntaxError for text that is not JSON, UnsealableMessageError for a sealed value this key does not open. */
  open(text: string): unknown {
    const value: unknown = JSON.parse(text);
    if (!isSealedMessage(value)) return value;
    const [version, kid, body] = value.$sealed.split('.');
    if (version !== VERSION || !kid || !body) throw new UnsealableMessageError('unknown sealed message format');
    if (!this.secret || kid !== this.secret.kid) throw new UnsealableMessageError(`sealed with key ${kid}; ${this.secret ? `the configured key is ${this.secret.kid}` : 'no PUSHLEDGER_SECRET_KEY is configured'}`);
    try {
      const raw = Buffer.from(body, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.secret.key, raw.subarray(0, 12));
      decipher.setAAD(this.aad(kid));
      decipher.setAuthTag(raw.subarray(12, 28));
      return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
    } catch {
      throw new UnsealableMessageError(`a sealed ${this.kind} does not open with the configured key`);
    }
  }

  private aad(kid: string): Buffer {
    return Buffer.from(`pushledger-message:${VERSION}:${this.kind}:${kid}`);
  }
}

function isSealedMessage(v: unknown): v is { $sealed: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { $sealed?: unknown }).$sealed === 'string' && Object.keys(v).length === 1;
}
