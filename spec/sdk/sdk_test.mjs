// Drives every function of the official Wix SDK module @wix/pro-gallery (through @wix/sdk's
// createClient) against a local progallery server. The SDK keeps computing the real Wix
// URLs; the `fetch` option swaps their origin for BASE_URL (no globals patched).
//
//   BASE_URL=http://127.0.0.1:8080 ADMIN_KEY=... node spec/sdk/sdk_test.mjs
//
// Prints one "ok"/"not ok" line per check and "N passed, N failed"; exits 1 on any failure.
import assert from 'node:assert/strict';
import { createClient, ApiKeyStrategy } from '@wix/sdk';
import { proGallery } from '@wix/pro-gallery';

const BASE_URL = process.env.BASE_URL;
const ADMIN_KEY = process.env.ADMIN_KEY;
if (!BASE_URL || !ADMIN_KEY) {
  console.error('BASE_URL and ADMIN_KEY are required');
  process.exit(2);
}
const base = new URL(BASE_URL);
if (base.hostname !== '127.0.0.1') {
  console.error('BASE_URL must be on 127.0.0.1');
  process.exit(2);
}

const seen = []; // [method, path] of every request the SDK made
function localFetch(url, init) {
  const u = new URL(url);
  seen.push([(init && init.method) || 'GET', u.pathname, u.search]);
  return fetch(BASE_URL.replace(/\/$/, '') + u.pathname + u.search, init);
}

const SITE_ID = '6f6a1f3e-0000-4000-8000-000000000001';
const admin = createClient({
  modules: { proGallery },
  auth: ApiKeyStrategy({ apiKey: ADMIN_KEY, siteId: SITE_ID }),
  fetch: localFetch,
});
const visitor = createClient({ modules: { proGallery }, fetch: localFetch });
const wrongKey = createClient({
  modules: { proGallery },
  auth: ApiKeyStrategy({ apiKey: ADMIN_KEY + 'x', siteId: SITE_ID }),
  fetch: localFetch,
});
const A = admin.proGallery;

const IMG = 'wix:image://v1/11062b_a1b2c3d4e5f6~mv2.jpg/sunset%20beach.jpg#originWidth=1920&originHeight=1080';
const IMG2 = 'wix:image://v1/38939f9568z222d6avc6285c9ac1e9129.jpg/38939f9568z222d6avc6285c9ac1e9129.jpg#originWidth=200&originHeight=199';
const VID = 'wix:video://v1/8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8c/BigBuckBunny.mp4#posterUri=8b7eef_9c5e3490bc9e4edbbc4ba917d17dad8cf002.jpg&posterWidth=1280&posterHeight=720';
const HTTP_IMG = 'https://static.example.com/media/photo.jpg';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// fresh inputs per call: the SDK mutates what it is given
const items = () => [
  {
    title: 'Item 1', description: 'first', sortOrder: 10,
    tags: { values: ['voice', 'bees'] },
    link: { text: 'More', url: 'https://www.wix.com/about/us', target: '_blank' },
    image: {
      imageInfo: IMG, focalPoint: { x: 0.9005769230769231, y: 0.25 }, quality: 90,
      unsharpMasking: { amount: 2.41, radius: 28.6, threshold: 0.4745098 },
      exif: { Artist: 'Bob', ExposureTime: '0.005' },
    },
  },
  { title: 'Item 2', sortOrder: 20, video: { type: 'WIX_MEDIA', videoInfo: VID, durationInMillis: 5000 } },
  { title: 'Item 3', sortOrder: 30, text: { html: '<p>Hi!</p>', css: { backgroundColor: 'rgba(205, 14, 205, 0.3)' } } },
  { title: 'Item 4', sortOrder: 40, image: { imageInfo: HTTP_IMG } },
];

let passed = 0, failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}`);
    console.log('  ' + String(e && e.stack || e).split('\n').slice(0, 8).join('\n  '));
  }
}

async function rejects(promise, status, code) {
  let err;
  try { await promise; } catch (e) { err = e; }
  assert.ok(err, `expected an error with status ${status}`);
  assert.equal(err.status ?? err.response?.status, status, `status (message: ${err.message})`);
  if (code === 'FIELD') {
    // the SDK keeps only validationError (fields renamed to its argument names) for these
    const v = err.details?.validationError?.fieldViolations;
    assert.ok(Array.isArray(v) && v.length > 0 && v[0].field, `field violations (message: ${err.message})`);
    assert.match(err.message, /INVALID_ARGUMENT/);
  } else if (code !== undefined) {
    assert.equal(err.details?.applicationError?.code, code, `code (message: ${err.message})`);
  }
  return err;
}

let g, clone, extra;

await check('createGallery with image, video, text and http items', async () => {
  g = await A.createGallery({ gallery: { name: 'SDK gallery', sortOrder: 5, items: items() } });
  assert.match(g._id, UUID);
  assert.equal(g.name, 'SDK gallery');
  assert.equal(g.sortOrder, 5);
  assert.equal(g.totalItems, 4);
  assert.ok(g._createdDate instanceof Date && !isNaN(g._createdDate));
  assert.equal(g.items.length, 4);
  const [i1, i2, i3, i4] = g.items;
  assert.equal(i1.type, 'IMAGE');
  assert.equal(i1.image.imageInfo, IMG, 'wix:image round trip');
  assert.deepEqual(i1.image.focalPoint, { x: 0.9005769230769231, y: 0.25 });
  assert.equal(i1.image.quality, 90);
  assert.deepEqual(i1.image.unsharpMasking, { amount: 2.41, radius: 28.6, threshold: 0.4745098 });
  assert.deepEqual(i1.image.exif, { Artist: 'Bob', ExposureTime: '0.005' });
  assert.deepEqual(i1.tags, { values: ['voice', 'bees'] });
  assert.deepEqual(i1.link, { text: 'More', url: 'https://www.wix.com/about/us', target: '_blank' });
  assert.ok(i1._createdDate instanceof Date && i1._updatedDate instanceof Date);
  assert.equal(i2.type, 'VIDEO');
  assert.equal(i2.video.videoInfo, VID, 'wix:video round trip');
  assert.equal(i2.video.durationInMillis, 5000);
  assert.equal(i3.type, 'TEXT');
  assert.equal(i3.text.html, '<p>Hi!</p>');
  assert.deepEqual(i3.text.css, { backgroundColor: 'rgba(205, 14, 205, 0.3)' });
  assert.equal(i4.image.imageInfo, HTTP_IMG, 'http image round trip');
});

await check('getGallery with itemOffset/itemLimit', async () => {
  const r = await A.getGallery(g._id, { itemOffset: 1, itemLimit: 2 });
  assert.equal(r._id, g._id);
  assert.equal(r.totalItems, 4);
  assert.deepEqual(r.items.map((i) => i.title), ['Item 2', 'Item 3']);
});

await check('getGallery as a visitor (no credentials)', async () => {
  const r = await visitor.proGallery.getGallery(g._id);
  assert.equal(r.items.length, 4);
});

await check('listGalleries', async () => {
  const all = [];
  let total;
  for (let offset = 0; ; offset += 10) {
    const r = await A.listGalleries({ limit: 10, offset, itemLimit: 1 });
    total = r.totalGalleries;
    all.push(...r.galleries);
    if (r.galleries.length < 10) break;
  }
  assert.equal(all.length, total);
  const mine = all.find((x) => x._id === g._id);
  assert.ok(mine, 'created gallery listed');
  assert.equal(mine.items.length, 1);
  assert.equal(mine.totalItems, 4);
  const dflt = await A.listGalleries();
  assert.ok(Array.isArray(dflt.galleries) && dflt.galleries.length <= 10);
});

await check('listGalleryItems', async () => {
  const r = await A.listGalleryItems(g._id, { itemLimit: 100 });
  assert.deepEqual(r.items.map((i) => i.title), ['Item 1', 'Item 2', 'Item 3', 'Item 4']);
  const page = await A.listGalleryItems(g._id, { itemOffset: 3, itemLimit: 5 });
  assert.deepEqual(page.items.map((i) => i.title), ['Item 4']);
});

await check('getGalleryItem', async () => {
  const it = await A.getGalleryItem({ galleryId: g._id, itemId: g.items[1]._id });
  assert.equal(it._id, g.items[1]._id);
  assert.equal(it.video.videoInfo, VID);
});

await check('createGalleryItem', async () => {
  extra = await A.createGalleryItem(g._id, { title: 'Extra', image: { imageInfo: IMG2 } });
  assert.match(extra._id, UUID);
  assert.equal(extra.type, 'IMAGE');
  assert.equal(extra.image.imageInfo, IMG2);
  assert.ok(extra.sortOrder > 40, 'default sortOrder lands at the end');
});

await check('updateGalleryItem (title only)', async () => {
  const it = await A.updateGalleryItem({ galleryId: g._id, itemId: extra._id }, { title: 'Renamed' });
  assert.equal(it.title, 'Renamed');
  assert.equal(it.image.imageInfo, IMG2, 'untouched fields kept');
  assert.ok(it._updatedDate > extra._updatedDate);
});

await check('updateGalleryItem with a fetched object (read-only keys sent back)', async () => {
  const fetched = await A.getGalleryItem({ galleryId: g._id, itemId: g.items[0]._id });
  fetched.description = 'changed';
  const it = await A.updateGalleryItem({ galleryId: g._id, itemId: fetched._id }, fetched);
  assert.equal(it.description, 'changed');
  assert.equal(it.image.imageInfo, IMG);
  assert.equal(it.title, 'Item 1');
});

await check('revisions through the SDK: carried, grown, a stale one 409 ABORTED', async () => {
  const fetched = await A.getGalleryItem({ galleryId: g._id, itemId: g.items[1]._id });
  assert.match(fetched.revision, /^[0-9]+$/);
  const it = await A.updateGalleryItem({ galleryId: g._id, itemId: fetched._id },
                                       { title: fetched.title, revision: fetched.revision });
  assert.equal(it.revision, String(Number(fetched.revision) + 1));
  await rejects(A.updateGalleryItem({ galleryId: g._id, itemId: fetched._id },
                                    { title: 'stale', revision: fetched.revision }), 409, 'ABORTED');
  const again = await A.getGalleryItem({ galleryId: g._id, itemId: fetched._id });
  assert.equal(again.title, fetched.title);
  const gal = await A.getGallery(g._id);
  assert.match(gal.revision, /^[0-9]+$/);
});

await check('updateGallery (name) and with a fetched gallery', async () => {
  const r = await A.updateGallery(g._id, { name: 'Renamed gallery' });
  assert.equal(r.name, 'Renamed gallery');
  assert.equal(r.totalItems, 5);
  const fetched = await A.getGallery(g._id);
  fetched.sortOrder = 7;
  const r2 = await A.updateGallery(g._id, fetched);
  assert.equal(r2.sortOrder, 7);
  assert.equal(r2.name, 'Renamed gallery');
  assert.equal(r2.totalItems, 5);
});

await check('createGallery({cloneFromGalleryId})', async () => {
  clone = await A.createGallery({ cloneFromGalleryId: g._id });
  assert.notEqual(clone._id, g._id);
  assert.equal(clone.name, 'Renamed gallery');
  assert.equal(clone.totalItems, 5);
  assert.deepEqual(clone.items.map((i) => i.title), ['Item 1', 'Item 2', 'Item 3', 'Item 4', 'Renamed']);
  assert.equal(clone.items[0].image.imageInfo, IMG);
  assert.equal(clone.items[1].video.videoInfo, VID);
});

await check('createGallery with no options, empty items array', async () => {
  const e = await A.createGallery();
  assert.match(e._id, UUID);
  assert.deepEqual(e.items, []);
  assert.equal(e.totalItems, 0);
  const items = await A.listGalleryItems(e._id);
  assert.deepEqual(items.items, []);
  await A.deleteGallery(e._id);
});

await check('bulkDeleteGalleryItems', async () => {
  const ids = [clone.items[0]._id, clone.items[2]._id];
  const r = await A.bulkDeleteGalleryItems(clone._id, ids);
  assert.deepEqual(r.itemIds, ids);
  const after = await A.getGallery(clone._id);
  assert.equal(after.totalItems, 3);
});

await check('deleteGalleryItems (deprecated, itemsIds in the query)', async () => {
  const r = await A.deleteGalleryItems(clone._id, { itemsIds: [clone.items[1]._id, clone.items[3]._id] });
  assert.equal(r.gallery._id, clone._id);
  assert.equal(r.gallery.totalItems, 1);
  assert.deepEqual(r.gallery.items.map((i) => i.title), ['Renamed']);
});

await check('deleteGalleryItem', async () => {
  const r = await A.deleteGalleryItem({ galleryId: g._id, itemId: extra._id });
  assert.deepEqual(r, { itemId: extra._id });
  await rejects(A.getGalleryItem({ galleryId: g._id, itemId: extra._id }), 404, 'NOT_FOUND');
});

await check('deleteGallery, then reads are 404 NOT_FOUND', async () => {
  const r = await A.deleteGallery(clone._id);
  assert.deepEqual(r, { galleryId: clone._id });
  await rejects(A.getGallery(clone._id), 404, 'NOT_FOUND');
  await rejects(A.listGalleryItems(clone._id), 404, 'NOT_FOUND');
  await rejects(A.deleteGallery(clone._id), 404, 'NOT_FOUND');
});

await check('visitor writes are 403 PERMISSION_DENIED; reads work', async () => {
  const V = visitor.proGallery;
  await rejects(V.createGallery({ gallery: { name: 'nope' } }), 403, 'PERMISSION_DENIED');
  await rejects(V.updateGallery(g._id, { name: 'nope' }), 403, 'PERMISSION_DENIED');
  await rejects(V.deleteGallery(g._id), 403, 'PERMISSION_DENIED');
  await rejects(V.createGalleryItem(g._id, { title: 'x' }), 403, 'PERMISSION_DENIED');
  await rejects(V.deleteGalleryItem({ galleryId: g._id, itemId: g.items[0]._id }), 403, 'PERMISSION_DENIED');
  await rejects(V.bulkDeleteGalleryItems(g._id, [g.items[0]._id]), 403, 'PERMISSION_DENIED');
  const list = await V.listGalleryItems(g._id);
  assert.equal(list.items.length, 4);
  assert.equal((await A.getGallery(g._id)).name, 'Renamed gallery');
});

await check('a wrong API key is 401 UNAUTHENTICATED', async () => {
  await rejects(wrongKey.proGallery.listGalleries(), 401, 'UNAUTHENTICATED');
  await rejects(wrongKey.proGallery.createGallery(), 401, 'UNAUTHENTICATED');
});

await check('missing or malformed ids are 400 (path "undefined")', async () => {
  const e1 = await rejects(A.getGallery(undefined), 400, 'FIELD');
  assert.equal(e1.details.validationError.fieldViolations[0].field, 'galleryId');
  await rejects(A.getGallery('not-a-uuid'), 400, 'FIELD');
  await rejects(A.updateGalleryItem({ galleryId: g._id }, { title: 't' }), 400, 'FIELD');
  await rejects(A.getGallery('a/b?c=d #e'), 400, 'FIELD');
});

await check('validation errors are 400 with field violations', async () => {
  const err = await rejects(A.createGalleryItem(g._id, { image: { imageInfo: IMG, quality: 5 } }), 400, 'FIELD');
  assert.equal(err.details.validationError.fieldViolations[0].field, 'item.image.quality');
  const nan = await rejects(A.createGalleryItem(g._id, { title: 'n', sortOrder: NaN }), 400, 'FIELD');
  assert.equal(nan.details.validationError.fieldViolations[0].field, 'item.sortOrder');
  const lim = await rejects(A.listGalleries({ limit: 11 }), 400, 'FIELD');
  assert.equal(lim.details.validationError.fieldViolations[0].field, 'options.limit');
  await rejects(A.getGallery(g._id, { itemLimit: 0 }), 400, 'FIELD');
  const deep = await rejects(A.createGallery({ gallery: { items: [{ title: 'ok' }, { image: { imageInfo: 'ftp://x' } }] } }), 400, 'FIELD');
  assert.equal(deep.details.validationError.fieldViolations[0].field, 'options.gallery.items[1].image.imageInfo');
});

await check('the SDK called /progallery/v2 only', async () => {
  assert.ok(seen.length > 30);
  for (const [, path] of seen) assert.ok(path.startsWith('/progallery/v2/galleries'), path);
  const methods = new Set(seen.map(([m]) => m));
  for (const m of ['GET', 'POST', 'PATCH', 'DELETE']) assert.ok(methods.has(m), m);
});

await A.deleteGallery(g._id).catch(() => {});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
