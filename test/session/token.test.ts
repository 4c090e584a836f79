import { describe, expect, it } from 'vitest';
import { generateToken, isWellFormedToken, sessionIdOf, TOKEN_LENGTH } from '../../src/session/token.js';

describe('token', () => {
  it('carries 256 bits of randomness as 43 base64url characters', () => {
    const token = generateToken();
    expect(token).toHaveLength(TOKEN_LENGTH);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(isWellFormedToken(token)).toBe(true);
  });

  it('never repeats across many draws', () => {
    const seen = new Set(Array.from({ length: 10_000 }, generateToken));
    expect(seen.size).toBe(10_000);
  });

  it('is stored as its SHA-256, not as itself', () => {
    const token = generateToken();
    const id = sessionIdOf(token);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).not.toContain(token);
  });

  it('rejects wrong lengths and alphabets', () => {
    expect(isWellFormedToken('')).toBe(false);
    expect(isWellFormedToken('a'.repeat(42))).toBe(false);
    expect(isWellFormedToken('a'.repeat(44))).toBe(false);
    expect(isWellFormedToken(`${'a'.repeat(42)}=`)).toBe(false);
    expect(isWellFormedToken(`${'a'.repeat(42)}/`)).toBe(false);
  });
});
