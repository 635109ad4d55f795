// Run 1: the service as it was during the outage.
import { Pool } from 'pg';

export { Pool };
