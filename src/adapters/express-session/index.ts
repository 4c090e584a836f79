export { type ImportResult, LegacyImport, type LegacyImportOptions, legacyImport } from './legacy-import.js';
export {
  type ConnectRedisOptions,
  connectRedisSource,
  type ExpressSessionStoreLike,
  expressStoreSource,
  type LegacySession,
  type LegacySource,
} from './legacy-source.js';
export { importExpressSessions } from './middleware.js';
export { type ExpressSessionStoreOptions, expressSessionStore } from './store.js';
