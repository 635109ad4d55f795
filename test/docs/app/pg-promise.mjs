// docs/data-layers.md: a pg-promise transaction stuck in its callback.
import { handle, transfer } from './src/pgp/accounts.js';

const leaked = new Promise((resolve) => handle.once('leak', resolve));
void transfer(1, 2, 10, new Promise(() => {}));
await leaked;
process.exit(0);
