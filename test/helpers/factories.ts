import pg from 'pg';
import { DATABASE_URL } from './db.js';

/** A realistic generic-pool factory: each resource is a connected pg.Client on the test server. */
export function pgClientFactory() {
  return {
    create: async (): Promise<pg.Client> => {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      return c;
    },
    destroy: (c: pg.Client) => c.end(),
  };
}
