// The REST v2 API of the same origin (docs/http.md), read as a visitor.
export const PREFIX = '/progallery/v2';

async function get(path) {
  const res = await fetch(PREFIX + path, { headers: { Accept: 'application/json' } });
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON: reported below */ }
  if (!res.ok) {
    const msg = (body && body.message) || res.statusText || 'request failed';
    const err = new Error(`${res.status} ${msg}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

export const listGalleries = (offset, limit = 10) =>
  get(`/galleries?limit=${limit}&offset=${offset}&itemLimit=1`);
export const getGallery = (id, itemLimit = 100) =>
  get(`/galleries/${encodeURIComponent(id)}?itemLimit=${itemLimit}`);
export const listItems = (id, itemOffset, itemLimit = 100) =>
  get(`/galleries/${encodeURIComponent(id)}/items?itemOffset=${itemOffset}&itemLimit=${itemLimit}`);
