// Run 2: the same service, one import changed.
import { Pool } from 'poolguard/pg';

export { Pool };
