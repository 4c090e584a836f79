/**
 * `npm start`: a private redis-server on a free port (or REDIS_URL), three copies
 * of the example cart app, each on its own port, sharing sessions through Redis.
 * Ctrl-C (or SIGTERM) stops everything this started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRedisServer, freePort, RedisServer } from '../src/system/redis-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const SERVERS = Number(process.env.SERVERS ?? 3);

let redis: RedisServer | null = null;
let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  if (findRedisServer()) {
    redis = await RedisServer.start();
    redisUrl = redis.url;
    console.log(`redis     ${redisUrl} (private, stopped on exit)`);
  } else {
    console.log(
      'redis-server is not on PATH: each app keeps sessions in its own memory (install redis-server to share them).',
    );
  }
}

const children: ChildProcess[] = [];
for (let i = 1; i <= SERVERS; i++) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(here, 'express-cart', 'app.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      SERVER_NAME: `app-${i}`,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    },
    stdio: 'inherit',
  });
  children.push(child);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  await redis?.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
console.log('Ctrl-C stops everything.');
