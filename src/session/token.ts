/**
 * Session tokens. A token is 32 bytes from the CSPRNG (256 bits), base64url, so
 * exactly 43 characters. The store never sees it: it keys sessions by the SHA-256
 * of the token, so a dump of the store yields no usable credential.
 */
import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';

// crypto.hash (Node >= 20.12) hashes a short string about twice as fast as a Hash object.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export const TOKEN_LENGTH = 43;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Cheap shape check before any hashing or store call: rejects garbage for free. */
export function isWellFormedToken(value: string): boolean {
  return value.length === TOKEN_LENGTH && TOKEN_PATTERN.test(value);
}

/** The id a store keys a session by (hex SHA-256 of the token). Safe to show and log. */
export function sessionIdOf(token: string): string {
  return oneShotHash ? oneShotHash('sha256', token, 'hex') : createHash('sha256').update(token).digest('hex');
}
