import { memoryStore } from '../../src/stores/memory/index.js';
import { storeConformance } from './conformance.js';

storeConformance('memory', () => ({ store: memoryStore({ quiet: true }), now: Date.now }));
