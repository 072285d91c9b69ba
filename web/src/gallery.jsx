// One gallery with Wix's renderer, pro-gallery 5 (docs/site.md). Items come from REST v2 a page
// at a time: the first with the gallery, the next ones when the renderer asks for more
// (NEED_MORE_ITEMS), until totalItems are in.
import React, { useEffect, useRef, useState, useCallback } from 'react';
import { createRoot } from 'react-dom/client';
import { ProGallery, GALLERY_CONSTS } from 'pro-gallery';
import { getGallery, listItems } from './api.js';
import { createMediaUrl } from './media.js';
import { toProGallery } from './items.js';

const PAGE = 100;
const INFO_HEIGHT = 52;

// ?layout= names the spec allows, to pro-gallery's layout numbers.
export const LAYOUTS = {
  grid: GALLERY_CONSTS.layoutParams_structure_galleryLayout.GRID,
  masonry: GALLERY_CONSTS.layoutParams_structure_galleryLayout.MASONRY,
  collage: GALLERY_CONSTS.layoutParams_structure_galleryLayout.COLLAGE,
};

// Titles and descriptions go below the items in grid and masonry (columns); a collage has
// no room below its items, so there they are an overlay, always shown.
function options(layout) {
  const overlay = layout === 'collage';
  return {
    layoutParams_structure_galleryLayout: LAYOUTS[layout],
    layoutParams_structure_layoutOrientation: layout === 'masonry' ? 'VERTICAL' : 'HORIZONTAL',
    layoutParams_structure_itemSpacing: 12,
    layoutParams_info_placement: overlay ? 'OVERLAY' : 'BELOW',
    layoutParams_info_height: INFO_HEIGHT,
    layoutParams_info_sizeUnits: 'PIXEL',
    layoutParams_crop_method: 'FILL',
    layoutParams_targetItemSize_unit: 'PIXEL',
    layoutParams_targetItemSize_value: 300,
    behaviourParams_item_clickAction: 'LINK',
    behaviourParams_item_overlay_hoveringBehaviour: overlay ? 'ALWAYS_SHOW' : 'NEVER_SHOW',
    behaviourParams_item_overlay_backgroundColor: 'rgba(0,0,0,0)',
    behaviourParams_item_video_playTrigger: 'CLICK',
    behaviourParams_gallery_vertical_loadMore_enable: false,
  };
}

function Info({ item, overlay }) {
  const { title, description, type } = item;
  if (type === 'text' || (!title && !description)) return null;
  return (
    <div className={overlay ? 'pg-info pg-overlay' : 'pg-info'}>
      {title ? <div className="pg-title">{title}</div> : null}
      {description ? <div className="pg-description">{description}</div> : null}
    </div>
  );
}

function Gallery({ gallery, layout }) {
  const box = useRef(null);
  const [width, setWidth] = useState(0);
  const [items, setItems] = useState(() => gallery.items.map(toProGallery).filter(Boolean));
  const fetched = useRef(gallery.items.length);
  const loading = useRef(false);

  useEffect(() => {
    const measure = () => box.current && setWidth(Math.floor(box.current.getBoundingClientRect().width));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(box.current);
    return () => ro.disconnect();
  }, []);

  // The renderer asks once and then waits for new items: a request that comes while a page
  // is loading is remembered and served when that page is in, never dropped.
  const asked = useRef(false);
  const more = useCallback(async () => {
    asked.current = true;
    if (loading.current) return;
    loading.current = true;
    try {
      while (asked.current && fetched.current < gallery.totalItems) {
        asked.current = false;
        const res = await listItems(gallery.id, fetched.current, PAGE);
        const got = res.items || [];
        fetched.current = got.length ? fetched.current + got.length : gallery.totalItems;
        setItems((old) => old.concat(got.map(toProGallery).filter(Boolean)));
      }
    } finally {
      loading.current = false;
    }
  }, [gallery]);

  useEffect(() => {
    document.body.dataset.items = String(items.length);
    document.body.dataset.complete = String(fetched.current >= gallery.totalItems);
  }, [items, gallery]);

  const eventsListener = useCallback((name) => {
    if (name === GALLERY_CONSTS.events.NEED_MORE_ITEMS) more();
  }, [more]);

  return (
    <div ref={box} className="pg-box">
      {width > 0 ? (
        <ProGallery
          id={'pg-' + gallery.id}
          items={items}
          options={options(layout)}
          container={{ width, height: window.innerHeight }}
          scrollingElement={window}
          createMediaUrl={createMediaUrl}
          eventsListener={eventsListener}
          totalItemsCount={gallery.totalItems}
          customComponents={{
            customInfoRenderer: (p) => <Info item={p} />,
            customHoverRenderer: (p) => <Info item={p} overlay />,
          }}
        />
      ) : null}
    </div>
  );
}

// pro-gallery's stylesheet, a file of its own (web/build.mjs), loaded before the first render.
function loadStyles() {
  if (document.getElementById('pg-gallery-css')) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const link = Object.assign(document.createElement('link'),
      { id: 'pg-gallery-css', rel: 'stylesheet', href: '/assets/gallery.css' });
    link.onload = resolve;
    link.onerror = () => reject(new Error('could not load /assets/gallery.css'));
    document.head.append(link);
  });
}

export async function showGallery(app, id, params) {
  const layout = params.get('layout') || 'grid';
  if (!(layout in LAYOUTS)) throw new Error(`unknown layout "${layout}" (grid, masonry or collage)`);
  const [{ gallery }] = await Promise.all([getGallery(id, PAGE), loadStyles()]);
  gallery.items = gallery.items || [];
  document.title = gallery.name || 'Gallery';
  const header = document.createElement('header');
  header.innerHTML = '<a href="/">← Galleries</a> <h1></h1> <nav class="pg-layouts"></nav>';
  header.querySelector('h1').textContent = gallery.name || '(untitled)';
  for (const name of Object.keys(LAYOUTS)) {
    const a = document.createElement('a');
    a.href = `/g/${encodeURIComponent(id)}?layout=${name}`;
    a.textContent = name;
    if (name === layout) a.setAttribute('aria-current', 'page');
    header.querySelector('nav').append(a);
  }
  const root = document.createElement('main');
  app.replaceChildren(header, root);
  createRoot(root).render(<Gallery gallery={gallery} layout={layout} />);
  app.dataset.ready = 'gallery';
}
