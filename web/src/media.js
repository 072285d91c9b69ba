// Media URLs of the page (docs/site.md, "Media"). A wix:image://v1/<id>/... image is asked for
// at /media/<id>; nginx answers it from the media folder when the file is there, and
// otherwise redirects to the configured media base (Wix's media server by default), so the
// page never needs to know which files are local. Resized copies come only in the widths of
// SIZES: a request rounds up to the next one (the largest for anything bigger), and nginx
// answers no other width, so a client cannot make the server resize without limit.
export const SIZES = [64, 160, 320, 640, 1280, 2560];

// The id of a wix:image:// or wix:video:// URI ("wix:image://v1/<id>/<filename>#..."), or null.
export function wixMediaId(uri) {
  const m = /^wix:(?:image|video):\/\/v1\/([^/#?]+)/.exec(String(uri || ''));
  return m ? decodeURIComponent(m[1]) : null;
}

// A media id safe to put in one path segment (no "/", "..", or control characters).
export function isSafeId(id) {
  return typeof id === 'string' && id.length > 0 && id.length <= 255 &&
    /^[A-Za-z0-9][A-Za-z0-9._~%-]*$/.test(id) && !id.includes('..');
}

// Where the page asks for the original file of a media id.
export function mediaPath(id) {
  return isSafeId(id) ? '/media/' + encodeURIComponent(id) : null;
}

// The smallest step >= px (the largest step when px is beyond them all).
export function sizeStep(px) {
  const want = Math.ceil(Number(px) || 0);
  for (const s of SIZES) if (s >= want) return s;
  return SIZES[SIZES.length - 1];
}

// The width to fetch so that an image of origW x origH covers a box of reqW x reqH (fill) or
// fits it (fit), times the device's pixel ratio, as a step of SIZES.
export function stepFor(resizeMethod, reqW, reqH, origW, origH, dpr = 1) {
  let w = Number(reqW) || 0;
  const h = Number(reqH) || 0;
  if (origW > 0 && origH > 0 && h > 0) {
    const byHeight = h * (origW / origH);
    w = resizeMethod === 'fit' ? Math.min(w || byHeight, byHeight) : Math.max(w, byHeight);
  }
  return sizeStep(w * (dpr > 0 ? Math.min(dpr, 3) : 1));
}

// pro-gallery's createMediaUrl: /media/<id> becomes /media/<step>/<id>; anything else (an
// http(s) image, a video file) is used as it is.
export function createMediaUrl({ item, originalUrl, resizeMethod, requiredWidth, requiredHeight }) {
  const url = String(originalUrl || '');
  const m = /^\/media\/([^/]+)$/.exec(url);
  if (!m || resizeMethod === 'video') return url;
  const md = (item && (item.metaData || item.metadata)) || {};
  const dpr = typeof window !== 'undefined' ? window.devicePixelRatio || 1 : 1;
  const step = stepFor(resizeMethod, requiredWidth, requiredHeight, md.width, md.height, dpr);
  return '/media/' + step + '/' + m[1];
}
