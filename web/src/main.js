// The page's entry (docs/site.md): GET / lists the galleries, GET /g/{galleryId} shows one. The
// list is plain DOM; the gallery view (React and pro-gallery) is a separate chunk loaded
// only on /g/, so the list page stays small.
import { listGalleries } from './api.js';
import { createMediaUrl } from './media.js';
import { toProGallery } from './items.js';

const app = document.getElementById('app');

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export function showError(message) {
  app.replaceChildren(el('p', { class: 'pg-error', role: 'alert' }, message));
  document.title = 'progallery: error';
}

async function galleriesPage() {
  const params = new URLSearchParams(location.search);
  const page = Math.max(0, parseInt(params.get('page') || '0', 10) || 0);
  const PER = 10;
  document.title = 'Galleries';
  const res = await listGalleries(page * PER, PER);
  const list = el('ul', { class: 'pg-galleries' });
  for (const g of res.galleries || []) {
    const first = (g.items || []).map(toProGallery).find((i) => i && i.metaData.type !== 'text');
    const thumb = first
      ? el('img', { src: first.metaData.type === 'video' ? first.metaData.poster.url
                      : createMediaUrl({ item: first, originalUrl: first.mediaUrl, resizeMethod: 'fill',
                                         requiredWidth: 160, requiredHeight: 120 }),
                    alt: '', width: '160', height: '120', loading: 'lazy' })
      : el('span', { class: 'pg-nothumb' });
    const n = g.totalItems || 0;
    list.append(el('li', {}, el('a', { href: '/g/' + encodeURIComponent(g.id), class: 'pg-gallery-link' },
      thumb, el('span', { class: 'pg-name' }, g.name || '(untitled)'),
      el('span', { class: 'pg-count' }, `${n} item${n === 1 ? '' : 's'}`))));
  }
  const total = res.totalGalleries || 0;
  const nav = el('nav', { class: 'pg-pages' });
  if (page > 0) nav.append(el('a', { href: `/?page=${page - 1}`, rel: 'prev' }, '← newer'));
  if ((page + 1) * PER < total) nav.append(el('a', { href: `/?page=${page + 1}`, rel: 'next' }, 'older →'));
  app.replaceChildren(el('h1', {}, 'Galleries'),
    total === 0 ? el('p', { class: 'pg-empty' }, 'No galleries yet: try progallery import-folder DIR --name NAME.') : list,
    nav);
  app.dataset.ready = 'galleries';
}

async function route() {
  const m = /^\/g\/([^/]+)\/?$/.exec(location.pathname);
  if (m) {
    const { showGallery } = await import('./gallery.jsx');
    return showGallery(app, decodeURIComponent(m[1]), new URLSearchParams(location.search));
  }
  if (location.pathname === '/' || location.pathname === '/index.html') return galleriesPage();
  showError('No such page.');
}

route().catch((e) => showError(`Could not load the page: ${e.message}`));
