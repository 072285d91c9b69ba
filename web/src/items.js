// REST v2 items to pro-gallery items (docs/site.md, "The page"). An item with
// nothing to show (no media member, or a media URI it cannot use) is left out, and counted.
import { wixMediaId, mediaPath } from './media.js';

// Text items carry no size in the store; they show as squares of this side.
export const TEXT_SIZE = 400;

function imageSource(info) {
  if (!info) return null;
  const id = info.id || wixMediaId(info.url);
  if (id && /^wix:image:/.test(info.url || 'wix:image:')) {
    const path = mediaPath(id);
    if (path) return { url: path, width: info.width, height: info.height };
    return null;
  }
  if (/^https?:\/\//i.test(info.url || '')) return { url: info.url, width: info.width, height: info.height };
  return null;
}

function link(l) {
  if (!l || !l.url || !/^(https?:|mailto:|\/)/i.test(l.url)) return undefined;
  return { url: l.url, target: l.target === '_self' ? '_self' : '_blank' };
}

function focal(fp) {
  return fp && typeof fp.x === 'number' && typeof fp.y === 'number' ? [fp.x, fp.y] : undefined;
}

export function toProGallery(item) {
  const base = { title: item.title || '', description: item.description || '', link: link(item.link) };
  if (item.image) {
    const src = imageSource(item.image.imageInfo);
    if (!src || !(src.width > 0) || !(src.height > 0)) return null;
    return {
      itemId: item.id, mediaUrl: src.url,
      metaData: { type: 'image', width: src.width, height: src.height, ...base,
                  focalPoint: focal(item.image.focalPoint) },
    };
  }
  if (item.video) {
    const info = item.video.videoInfo || {};
    const id = info.id || wixMediaId(info.url);
    const url = id ? mediaPath(id) : (/^https?:\/\//i.test(info.url || '') ? info.url : null);
    const p = (info.posters || [])[0];
    const poster = p && (p.id ? mediaPath(p.id) : p.url);
    if (!url || !poster || !(p.width > 0) || !(p.height > 0)) return null;
    return {
      itemId: item.id, mediaUrl: url,
      metaData: { type: 'video', width: p.width, height: p.height, ...base, videoUrl: url,
                  poster: { url: poster, width: p.width, height: p.height } },
    };
  }
  if (item.text && typeof item.text.html === 'string') {
    return {
      itemId: item.id, html: item.text.html,
      metaData: { type: 'text', width: TEXT_SIZE, height: TEXT_SIZE, ...base,
                  backgroundColor: '#f4f1ea' },
    };
  }
  return null;
}
