// The baseline: the same job as the service with bare node:http, JSON.parse and a hand-rolled
// append. No framework, no validation, no signatures, no metrics. It writes the same line bytes
// and commits the same way (bench/peer-append.mjs), so the ratio service/baseline is the price of
// Koa, koa-bodyparser, TypeBox and the rest of the request path.
import http from 'node:http';
import { appender, linesOf, serve } from './peer-append.mjs';

const OK = Buffer.from('{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}');
const out = appender();

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const receivedAt = Date.now();
    const q = new URL(req.url, 'http://x').searchParams;
    const text = linesOf(q, JSON.parse(Buffer.concat(chunks).toString()), receivedAt);
    out.append(text).then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(OK);
      },
      () => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(OK);
      },
    );
  });
});
serve(server, out);
