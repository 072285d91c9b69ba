// The pages in a real browser (spec/site_spec.lua runs this): Debian's chromium driven by
// playwright-core, never a downloaded browser. For one gallery, in each layout:
//   - every item is rendered (the page is scrolled to the end: the renderer is lazy),
//   - every image has loaded (complete, with pixels), every title is shown,
//   - the linked item is a link (<a href=...>) and the text item's HTML is there,
//   - no page error and no failed request;
// and GET / lists the gallery with a link to /g/{id}. Saves a screenshot per layout in OUT.
// Prints one JSON line: { ok, failures: [...], layouts: { name: { items, images, ms, startBytes } } }.
//   BASE=http://127.0.0.1:PORT GALLERY=<id> EXPECT=<file.json> OUT=<dir> node test/browser.mjs
// EXPECT: { ids: [itemId...], titles: [...], links: [{ url }], texts: [substring...], name,
//          images: least number of <img>, fetched: [paths that must answer 200/206] }
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';

const { BASE, GALLERY, EXPECT, OUT } = process.env;
const LIST = process.env.LIST !== 'off'; // the galleries page and the unknown gallery too
const expect = JSON.parse(readFileSync(EXPECT, 'utf8'));
// lists may come as {} from an encoder that cannot tell an empty array from an empty object
for (const k of ['ids', 'titles', 'links', 'texts', 'fetched']) if (!Array.isArray(expect[k])) expect[k] = [];
const layouts = (process.env.LAYOUTS || 'grid,masonry,collage').split(',');
mkdirSync(OUT, { recursive: true });
const failures = [];
const fail = (layout, msg) => failures.push(`${layout}: ${msg}`);
const report = { layouts: {} };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  for (const layout of layouts) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = [];
    const startBytes = { total: 0 };
    page.on('pageerror', (e) => errors.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push('console error: ' + m.text()); });
    // a video element that has read the metadata it preloads stops the download: not a failure
    const requested = new Set();
    page.on('request', (r) => requested.add(new URL(r.url()).pathname));
    page.on('requestfailed', (r) => {
      if (r.resourceType() === 'media' && r.failure()?.errorText === 'net::ERR_ABORTED') return;
      errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    const fetched = new Map();
    page.on('response', (r) => {
      fetched.set(new URL(r.url()).pathname, r.status());
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    const t0 = Date.now();
    await page.goto(`${BASE}/g/${GALLERY}?layout=${layout}`, { waitUntil: 'load' });
    await page.waitForSelector('#app[data-ready="gallery"]', { timeout: 20000 });
    await page.waitForSelector('[data-hook="item-container"]', { timeout: 20000 });
    // scroll to the end as a reader would, moving every step (the renderer asks for more items
    // on scroll events, at most once per 2 s), until every expected item is there (bounded)
    for (let round = 0; round < 160; round++) {
      const n = await page.evaluate((up) => {
        const end = document.documentElement.scrollHeight;
        window.scrollTo(0, up ? end - 2 * window.innerHeight : end);
        return document.querySelectorAll('[data-hook="item-container"]').length;
      }, round % 2 === 1);
      if (n >= expect.ids.length && round % 2 === 0) break;
      await page.waitForTimeout(250);
    }
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForTimeout(500);
    // video previews are lazy iframes: bring each into view so that it loads its file
    const previews = await page.locator('[data-hook="video-iframe-placeholder"]').all();
    for (const p of previews) { await p.scrollIntoViewIfNeeded().catch(() => {}); await page.waitForTimeout(300); }
    // every image in the page done loading (bounded wait)
    await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 20000 })
      .catch(() => {});
    await page.waitForLoadState('networkidle').catch(() => {});
    const ms = Date.now() - t0;
    const seen = await page.evaluate(() => ({
      ids: [...document.querySelectorAll('[data-hook="item-container"]')].map((e) => e.getAttribute('data-id')),
      images: [...document.images].map((i) => ({ src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0 })),
      titles: [...document.querySelectorAll('.pg-title')].map((e) => e.textContent),
      links: [...document.querySelectorAll('a[href]')].map((a) => ({ href: a.href, target: a.target })),
      html: document.body.innerHTML,
    }));
    for (const id of expect.ids) if (!seen.ids.includes(id)) fail(layout, `item ${id} not rendered`);
    if (seen.ids.length !== expect.ids.length) fail(layout, `${seen.ids.length} items rendered, expected ${expect.ids.length}`);
    const bad = seen.images.filter((i) => !i.ok);
    for (const i of bad) fail(layout, `image not loaded: ${i.src}`);
    if (seen.images.length < (expect.images || 0)) fail(layout, `${seen.images.length} images, expected at least ${expect.images}`);
    for (const t of expect.titles) if (!seen.titles.includes(t)) fail(layout, `title "${t}" not shown`);
    for (const l of expect.links) {
      if (!seen.links.some((a) => a.href === l.url)) fail(layout, `no link to ${l.url}`);
    }
    for (const t of expect.texts) if (!seen.html.includes(t)) fail(layout, `text item HTML "${t}" missing`);
    // Each file of expect.fetched: pointed at by the page (a <video>, or the preview iframe's
    // document) and, when asked for, answered with the file. A video's player loads once the reader has interacted with the gallery (pro-gallery's
    // firstUserInteractionExecuted: a hover will do); before that the page may show only its
    // poster, and whether the lazy preview iframe ever pointed at the file is a race. So hover
    // each video item as a reader would, then wait (bounded) for the page to point at the file.
    const pointedAt = (path) => page.evaluate((path) => [...document.querySelectorAll('video, source, iframe')]
      .some((e) => [e.currentSrc, e.getAttribute('src'), e.getAttribute('srcdoc')]
        .some((v) => v && v.includes(path))), path);
    const videos = page.locator('[data-hook="item-container"]:has(.gallery-item-video)');
    for (const p of expect.fetched) {
      let found = requested.has(p) || await pointedAt(p);
      for (let round = 0; !found && round < 20; round++) {
        for (const v of await videos.all()) {
          await v.scrollIntoViewIfNeeded({ timeout: 1000 }).catch(() => {});
          await v.hover({ timeout: 1000, force: true }).catch(() => {});
        }
        await page.waitForTimeout(250);
        found = requested.has(p) || await pointedAt(p);
      }
      const st = fetched.get(p);
      if (!found) {
        // what the page shows of its video items instead
        const shown = (await videos.evaluateAll((es) => es.map((e) => e.outerHTML.replace(/\s+/g, ' ')
          .slice(0, 1500)))).join(' | ') || 'no video item';
        fail(layout, `${p} neither requested nor in the page; video items: ${shown}`);
      }
      if (st !== undefined && st !== 200 && st !== 206) fail(layout, `${p} answered ${st}`);
    }
    for (const e of errors) fail(layout, e);
    // what the page loaded (encoded bytes: gzip as sent) from /assets/ and the HTML
    const bytes = await page.evaluate(() => performance.getEntriesByType('resource')
      .concat(performance.getEntriesByType('navigation'))
      .filter((e) => e.name.includes('/assets/') || e.entryType === 'navigation')
      .reduce((n, e) => n + (e.encodedBodySize || 0), 0));
    startBytes.total = bytes;
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${OUT}/${process.env.SHOT || 'gallery'}-${layout}.png`, fullPage: false });
    report.layouts[layout] = { items: seen.ids.length, images: seen.images.length, ms, startBytes: bytes };
    await context.close();
  }

  if (LIST) await listPages();
} finally {
  await browser.close();
}

async function listPages() {
  // the list of galleries
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.goto(`${BASE}/`, { waitUntil: 'load' });
  await page.waitForSelector('#app[data-ready="galleries"]', { timeout: 20000 });
  const links = await page.evaluate(() => [...document.querySelectorAll('a.pg-gallery-link')]
    .map((a) => ({ href: a.getAttribute('href'), text: a.textContent })));
  const mine = links.find((l) => l.href === `/g/${GALLERY}`);
  if (!mine) fail('list', `no link to /g/${GALLERY} in ${JSON.stringify(links)}`);
  else if (!mine.text.includes(expect.name)) fail('list', `the link does not name "${expect.name}": ${mine.text}`);
  await page.waitForLoadState('networkidle').catch(() => {});
  report.listBytes = await page.evaluate(() => performance.getEntriesByType('resource')
    .concat(performance.getEntriesByType('navigation'))
    .filter((e) => e.name.includes('/assets/') || e.entryType === 'navigation')
    .reduce((n, e) => n + (e.encodedBodySize || 0), 0));
  for (const e of errors) fail('list', e);
  await page.screenshot({ path: `${OUT}/galleries.png` });
  // an unknown gallery: a message, not a crash
  const p2 = await browser.newPage();
  await p2.goto(`${BASE}/g/00000000-0000-4000-8000-000000000000`);
  await p2.waitForSelector('.pg-error', { timeout: 20000 }).catch(() => fail('missing', 'no error message for an unknown gallery'));
}
report.ok = failures.length === 0;
report.failures = failures;
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
