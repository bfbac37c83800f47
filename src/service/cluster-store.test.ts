import { join } from 'node:path';
import { openDb } from '../base/db.js';
import { MemoryClusterStore } from './memory-store.js';
import { SqliteClusterStore } from './sqlite-store.js';
import { clusterStoreSuite } from './testsuite.js';

clusterStoreSuite('memory', async () => new MemoryClusterStore());

clusterStoreSuite('sqlite', async (dir) => {
  const db = openDb(join(dir, 'pier.db'), []);
  const store = new SqliteClusterStore(db);
  // The test closes the store; the database is the opener's to close.
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    db.close();
  };
  return store;
}, { persistent: true });
