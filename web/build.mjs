// Bundles the page (web/src) into an output folder (default ../build/web) with esbuild:
// ES modules with code splitting, so the gallery chunk (React, pro-gallery) loads only on
// /g/. Prints the gzipped size of what each page loads at start.
//   node build.mjs [OUTDIR]
import * as esbuild from 'esbuild';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, '..', 'build', 'web'));
await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: [
    { in: path.join(here, 'src', 'main.js'), out: 'main' },
    { in: path.join(here, 'src', 'main.css'), out: 'main' },
    { in: path.join(here, 'src', 'gallery.css'), out: 'gallery' },
  ],
  outdir: path.join(out, 'assets'),
  bundle: true, splitting: true, format: 'esm', minify: true, sourcemap: false,
  target: ['es2020'], jsx: 'automatic', loader: { '.js': 'jsx' },
  entryNames: '[name]', chunkNames: 'chunk-[hash]', assetNames: 'asset-[hash]',
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true, logLevel: 'warning',
});
await copyFile(path.join(here, 'index.html'), path.join(out, 'index.html'));

// What each page loads at start: the entry, its static imports, and for /g/ the gallery
// chunk and its static imports (esbuild's metafile names them), plus the HTML and CSS.
const outputs = result.metafile.outputs;
const rel = (p) => path.relative(process.cwd(), p);
function closure(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const imp of outputs[file]?.imports || []) if (imp.kind === 'import-statement') closure(imp.path, seen);
  return seen;
}
const entryJs = Object.keys(outputs).find((f) => f.endsWith('/main.js'));
const galleryChunk = Object.keys(outputs).find((f) => (outputs[f].entryPoint || '').endsWith('src/gallery.jsx'));
const gz = async (f) => gzipSync(await readFile(path.resolve(f)), { level: 9 }).length;
const sum = async (files) => { let n = 0; for (const f of files) n += await gz(f); return n; };
const shell = [path.join(out, 'index.html'), path.join(out, 'assets', 'main.css')];
const list = [...closure(entryJs)];
const gallery = [...new Set([...list, ...(galleryChunk ? closure(galleryChunk) : [])])];
const cssChunks = [path.join(out, 'assets', 'gallery.css')];
const sizes = {
  listPageGzip: (await sum(list)) + (await sum(shell)),
  galleryPageGzip: (await sum(gallery)) + (await sum(shell)) + (await sum(cssChunks)),
  allJsGzip: await sum(Object.keys(outputs).filter((f) => f.endsWith('.js'))),
};
await writeFile(path.join(out, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
console.log(`web: built ${rel(out)}: start (gzip) / ${sizes.listPageGzip} B, /g/ ${sizes.galleryPageGzip} B; all JS ${sizes.allJsGzip} B`);
