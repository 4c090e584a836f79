/**
 * Modelled server capacity for the lab: at most `maxConcurrent` requests are
 * served at once, each holds its slot for `serviceMs`, the rest wait in a FIFO
 * queue. Load imbalance then shows up as queueing and tail latency, as on a real
 * saturated server, instead of as noise of the shared test machine's CPU.
 */
import type { NextFunction, Request, Response } from 'express';

export interface Capacity {
  maxConcurrent: number;
  serviceMs: number;
}

export function capacityLimit({ maxConcurrent, serviceMs }: Capacity) {
  let active = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    active--;
    const next = queue.shift();
    if (next) {
      active++;
      next();
    }
  };
  const middleware = (_req: Request, res: Response, next: NextFunction) => {
    const start = () => {
      res.once('close', release);
      if (serviceMs > 0) setTimeout(next, serviceMs);
      else next();
    };
    if (active < maxConcurrent) {
      active++;
      start();
    } else {
      queue.push(start);
    }
  };
  return Object.assign(middleware, {
    stats: () => ({ active, queued: queue.length }),
  });
}
