// The receiver of `bench/webhooks.sh`: answers every POST at once with 200 and records,
// per event, the seq order it came in and the lag from the commit (the domain event's
// eventTime, read from the JWT's payload without verifying it) to its arrival.
//   PORT=9000 OUT=lags.txt node bench/webhook_sink.mjs
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';

const out = process.env.OUT;
let lines = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    res.writeHead(200, { 'Content-Length': '2' });
    res.end('ok');
    try {
      const jwt = Buffer.concat(chunks).toString('utf8');
      const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
      const ev = JSON.parse(JSON.parse(payload.data).data);
      lines.push(`${at} ${at - Date.parse(ev.eventTime)} ${ev.id}`);
      if (lines.length >= 100) { appendFileSync(out, lines.join('\n') + '\n'); lines = []; }
    } catch (e) {
      appendFileSync(out, `error ${e.message}\n`);
    }
  });
});
setInterval(() => { if (lines.length) { appendFileSync(out, lines.join('\n') + '\n'); lines = []; } }, 200);
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => console.log('listening ' + server.address().port));
process.on('SIGTERM', () => { if (lines.length) appendFileSync(out, lines.join('\n') + '\n'); process.exit(0); });
