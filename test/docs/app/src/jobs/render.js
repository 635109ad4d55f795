import { createPool } from 'poolguard/generic-pool';

// Any resource: here a stand-in for a headless browser page.
const factory = { create: async () => ({ render: async (html) => html.length }), destroy: async () => {} };
export const pages = createPool(factory, { max: 2, acquireTimeoutMillis: 1_000, guard: { name: 'renderer', leakThresholdMs: 1_000 } });

export async function renderInvoice(html) {
  const page = await pages.acquire();
  const size = await page.render(html);
  if (size === 0) return 0; // the bug: the page is not given back on this path
  await pages.release(page);
  return size;
}
