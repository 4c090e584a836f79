/**
 * express-session's signed cookie: `connect.sid=s%3A<sid>.<signature>`, the
 * signature being base64 HMAC-SHA256 of the sid without padding, as the
 * cookie-signature package makes it. Checked here so a forged or unsigned
 * cookie can never name a legacy session to import (session fixation).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function sign(value: string, secret: string): string {
  return `${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`;
}

/** The session id a signed value carries, or null when no secret signed it. */
export function unsign(signed: string, secrets: readonly string[]): string | null {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return null;
  const value = signed.slice(0, dot);
  const given = Buffer.from(signed);
  for (const secret of secrets) {
    const expected = Buffer.from(sign(value, secret));
    // Constant time: a timing difference must not reveal how much of a forged signature was right.
    if (expected.length === given.length && timingSafeEqual(expected, given)) return value;
  }
  return null;
}

/** The legacy session id in a Cookie header: the first `name` cookie that is signed by one of `secrets`. */
export function legacySessionId(header: string, name: string, secrets: readonly string[]): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    // Oversized values are not express-session cookies; do not spend an HMAC on them.
    if (value.length > 512) continue;
    try {
      value = decodeURIComponent(value);
    } catch {
      continue;
    }
    if (!value.startsWith('s:')) continue;
    const sid = unsign(value.slice(2), secrets);
    if (sid !== null) return sid;
  }
  return null;
}
