/** Worker thread of the simulation: runs some strategies over the shared workload, posts their results. */
import { parentPort, workerData } from 'node:worker_threads';
import type { StrategyName } from '../balancer/strategies/strategy.js';
import type { Workload } from './sim-workload.js';
import { type Model, runStrategy } from './simulate.js';

const { names, workload, model } = workerData as { names: StrategyName[]; workload: Workload; model: Model };
parentPort!.postMessage(names.map((name) => runStrategy(name, workload, model)));
