import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { balancerErrorCodes } from '../../src/balancer/errors.js';

describe('docs/errors.md, section Balancer', () => {
  it('lists exactly the balancer codes, with the same meanings', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const section = doc.split(/^## /m).find((s) => s.startsWith('Balancer'));
    expect(section, 'docs/errors.md needs a "## Balancer" section').toBeDefined();
    const rows = [...section!.matchAll(/^\|\s*`(UNPINNED_ERR_[A-Z_]+)`\s*\|\s*(.*?)\s*\|$/gm)].map((m) => [
      m[1],
      m[2]!.replace(/\\\|/g, '|'),
    ]);
    expect(Object.fromEntries(rows)).toEqual(balancerErrorCodes);
    expect(rows.length).toBe(Object.keys(balancerErrorCodes).length);
  });

  it('uses codes that start with UNPINNED_ERR_LB_ so they cannot collide with other parts', () => {
    for (const code of Object.keys(balancerErrorCodes)) expect(code).toMatch(/^UNPINNED_ERR_LB_[A-Z_]+$/);
  });
});
