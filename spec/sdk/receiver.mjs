// A webhook receiver built on the official Wix SDK: @wix/sdk's AppStrategy with the
// public key, all six proGallery.on... handlers, client.webhooks.process(body). Each
// handled event is appended to OUT as one JSON line { handler, envelope }; the answer is
// 200 once process() resolved, 500 when it threw (a bad signature, an unexpected event).
//
//   PORT=9000 PUBLIC_KEY=pub.pem OUT=events.jsonl [APP_ID=...] node spec/sdk/receiver.mjs
//
// Prints "listening <port>" when ready. MODE=fail answers 500 to everything (a broken
// receiver), MODE=hang never answers, MODE=close closes the connection at once, MODE=slow
// answers each after 250 ms.
import { createServer } from 'node:http';
import { appendFileSync, readFileSync } from 'node:fs';
import { createClient, AppStrategy } from '@wix/sdk';
import { proGallery } from '@wix/pro-gallery';

const port = Number(process.env.PORT || 0);
const out = process.env.OUT;
const mode = process.env.MODE || 'ok';
if (!process.env.PUBLIC_KEY || !out) {
  console.error('PUBLIC_KEY and OUT are required');
  process.exit(2);
}
const client = createClient({
  auth: AppStrategy({ appId: process.env.APP_ID || 'progallery-test-app', publicKey: readFileSync(process.env.PUBLIC_KEY, 'utf8') }),
  modules: { proGallery },
});

const handlers = ['onGalleryCreated', 'onGalleryUpdated', 'onGalleryDeleted',
  'onGalleryItemCreated', 'onGalleryItemUpdated', 'onGalleryItemDeleted'];
for (const name of handlers) {
  client.proGallery[name]((envelope) => {
    appendFileSync(out, JSON.stringify({ handler: name, envelope, at: Date.now() }) + '\n');
  });
}

const server = createServer((req, res) => {
  if (mode === 'close') { req.socket.destroy(); return; }
  if (mode === 'hang') return;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    if (mode === 'fail') { res.writeHead(500); res.end('failing on purpose'); return; }
    if (mode === 'slow') await new Promise((r) => setTimeout(r, 250));
    try {
      await client.webhooks.process(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    } catch (e) {
      appendFileSync(out, JSON.stringify({ error: String(e && e.message || e) }) + '\n');
      res.writeHead(500);
      res.end(String(e && e.message || e));
    }
  });
});
server.listen(port, '127.0.0.1', () => {
  console.log('listening ' + server.address().port);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });
