export { SqliteStore, type SqliteStoreOptions, sqliteStore } from './sqlite-store.js';
