/** JSON log lines with pino's fields, and the balancer's one line per ejection through a passed-in logger. */
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import { type LogFields, lineLogger } from '../../src/observe/log.js';

it("writes pino's fields: numeric level, epoch-ms time, pid, hostname, msg", () => {
  const lines: string[] = [];
  const logger = lineLogger('json', (l) => lines.push(l));
  logger.warn({ server: 'app-2' }, 'server app-2 ejected');
  logger.info({}, 'plain');
  const first = JSON.parse(lines[0]!);
  expect(first).toMatchObject({
    level: 40,
    pid: process.pid,
    hostname: hostname(),
    server: 'app-2',
    msg: 'server app-2 ejected',
  });
  expect(Math.abs(first.time - Date.now())).toBeLessThan(60_000);
  expect(JSON.parse(lines[1]!)).toMatchObject({ level: 30, msg: 'plain' });
  expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
});

it("a balancer given an app's logger logs server changes on it", async () => {
  const seen: { level: string; fields: LogFields; msg: string }[] = [];
  const logger = {
    info: (fields: LogFields, msg: string) => seen.push({ level: 'info', fields, msg }),
    warn: (fields: LogFields, msg: string) => seen.push({ level: 'warn', fields, msg }),
    error: (fields: LogFields, msg: string) => seen.push({ level: 'error', fields, msg }),
  };
  const lb = createBalancer({ backends: [{ id: 'a', url: 'http://127.0.0.1:9' }], logger });
  void lb.drain('a');
  expect(seen.map((s) => s.msg)).toEqual(['server a added', 'server a draining']);
  expect(seen[1]!.fields).toMatchObject({ server: 'a', state: 'draining' });
  await lb.close();
});
