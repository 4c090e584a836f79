/** The balancer suites' name for the shared wait helper (one implementation: ./wait.ts). */
export { waitFor } from './wait.js';
