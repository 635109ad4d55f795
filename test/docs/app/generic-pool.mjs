// docs/generic-pool.md: a resource never given back, and generic-pool's timeout error with the holders.
import { pages, renderInvoice } from './src/jobs/render.js';

const keepAlive = setInterval(() => {}, 1_000); // the resources hold no socket open: keep the process up
const leaked = new Promise((resolve) => pages.guard.once('leak', resolve));
await renderInvoice('');
await leaked;
await renderInvoice('');
const err = await pages.acquire().then(() => undefined, (e) => e);
// What console.error(err) prints, up to the frames.
console.log(JSON.stringify({ 'generic-pool-timeout': err.stack.split('\n    at ')[0] }));
process.exit(0);
