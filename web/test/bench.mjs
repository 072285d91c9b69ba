// make bench-site's page half (bench/site.sh runs this): time from navigation to every image
// loaded for one gallery, in headless chromium, fed by the REST API and, side by side, by the
// same JSON as a static file (the page's API requests are routed to STATIC_URL, which nginx
// serves from disk). A tall viewport shows every item at once, so nothing waits on a scroll.
// Rounds alternate the two (the order flips every round); prints one JSON line with the
// medians and the per-round ratios.
//   BASE=... GALLERY=<id> STATIC_URL=<url of the gallery JSON> ITEMS_URL=<url of {items:[]}>
//   ROUNDS=5 node test/bench.mjs
import { chromium } from 'playwright-core';

const { BASE, GALLERY, STATIC_URL, ITEMS_URL } = process.env;
const ROUNDS = Number(process.env.ROUNDS || 5);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

async function once(fromStatic) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 12000 } });
  const page = await context.newPage();
  if (fromStatic) {
    await page.route(/\/progallery\/v2\/galleries\/[^/?]+\?/, (r) => r.continue({ url: STATIC_URL }));
    await page.route(/\/progallery\/v2\/galleries\/[^/?]+\/items\?/, (r) => r.continue({ url: ITEMS_URL }));
  }
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  await page.goto(`${BASE}/g/${GALLERY}?layout=grid`);
  await page.waitForSelector('[data-hook="item-container"]', { timeout: 30000 });
  await page.waitForFunction((n) => {
    const imgs = [...document.images];
    return imgs.length >= n && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, Number(process.env.IMAGES || 50), { timeout: 60000, polling: 10 });
  const ms = Date.now() - t0;
  const bytes = await page.evaluate(() => performance.getEntriesByType('resource')
    .concat(performance.getEntriesByType('navigation'))
    .reduce((n, e) => n + (e.encodedBodySize || 0), 0));
  await context.close();
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  return { ms, bytes };
}

const api = [], stat = [], ratios = [];
await once(false); // warm the resize cache and the OS page cache: not counted
await once(true);
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? [true, false] : [false, true];
  const res = {};
  for (const s of order) res[s] = await once(s);
  api.push(res[false]); stat.push(res[true]);
  ratios.push(res[true].ms / res[false].ms);
}
await browser.close();
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
console.log(JSON.stringify({
  apiMs: median(api.map((x) => x.ms)), staticMs: median(stat.map((x) => x.ms)),
  ratioStaticOverApi: median(ratios), bytesApi: api[0].bytes, bytesStatic: stat[0].bytes,
  rounds: ROUNDS, apiRuns: api.map((x) => x.ms), staticRuns: stat.map((x) => x.ms),
}));
