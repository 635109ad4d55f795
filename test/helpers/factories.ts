import pg from 'pg';
import { createPool } from '../../src/generic-pool.js';
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

/** An in-memory resource: timing paths run on a fake clock, with no I/O to wait for. */
export interface Thing {
  id: number;
  destroyed: boolean;
}

/** A guarded generic-pool of in-memory Things (max 3 unless set; logger off unless set). */
export function memoryPool(options: Parameters<typeof createPool>[1] = {}) {
  let next = 1;
  const created: Thing[] = [];
  const pool = createPool<Thing>(
    {
      create: async () => {
        const t = { id: next++, destroyed: false };
        created.push(t);
        return t;
      },
      destroy: async (t) => {
        t.destroyed = true;
      },
    },
    { max: 3, ...options, guard: { logger: false, ...options.guard } },
  );
  return { pool, created };
}
