import { createDecipheriv, hkdfSync, type ECDH } from 'node:crypto';

/** What a user agent holds for one subscription: its ECDH key pair (p256dh) and the auth secret. */
export interface SubscriptionSecrets {
  ecdh: ECDH;
  auth: Buffer;
}

export class WebPushDecryptError extends Error {}

const TAG_BYTES = 16;
const HEADER_FIXED_BYTES = 21;

const hkdf = (ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer => Buffer.from(hkdfSync('sha256', ikm, salt, info, length));

/**
 * Decrypts an `aes128gcm` Web Push body (RFC 8188 framing, RFC 8291 keys) as the browser would: the header
 * carries the salt, the record size and the sender's ephemeral public key; every record ends with a padding
 * delimiter (2 for the last record, 1 before it) followed by zeros.
 */
export function decryptAes128gcm(body: Buffer, ua: SubscriptionSecrets): Buffer {
  if (body.length < HEADER_FIXED_BYTES) throw new WebPushDecryptError('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const asPublic = body.subarray(HEADER_FIXED_BYTES, HEADER_FIXED_BYTES + idlen);
  if (rs < 18 || idlen !== 65 || asPublic[0] !== 0x04) throw new WebPushDecryptError('bad aes128gcm header (record size, or keyid not a P-256 point)');
  let ecdhSecret: Buffer;
  try {
    ecdhSecret = ua.ecdh.computeSecret(asPublic);
  } catch {
    throw new WebPushDecryptError('keyid is not a point on P-256');
  }
  const uaPublic = ua.ecdh.getPublicKey();
  const ikm = hkdf(ecdhSecret, ua.auth, Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]), 32);
  const cek = hkdf(ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const baseNonce = hkdf(ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12);
  const records = body.subarray(HEADER_FIXED_BYTES + idlen);
  if (records.length === 0) throw new WebPushDecryptError('no record');
  const out: Buffer[] = [];
  for (let seq = 0, at = 0; at < records.length; seq++, at += rs) {
    const record = records.subarray(at, Math.min(at + rs, records.length));
    const last = at + rs >= records.length;
    if (record.length <= TAG_BYTES) throw new WebPushDecryptError('record too short');
    const nonce = Buffer.from(baseNonce);
    // RFC 8188 XORs the sequence number into the nonce's last 6 bytes; a record count fits in the last 4, and JS's ^ is 32-bit.
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ seq) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(record.subarray(0, record.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new WebPushDecryptError('record does not decrypt with the subscription keys');
    }
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (end < 0 || plain[end] !== (last ? 2 : 1)) throw new WebPushDecryptError('bad padding delimiter');
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out);
}
