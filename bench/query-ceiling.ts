// Ceiling for the query benchmark's cached runs: a uWebSockets.js server that answers every
// request with the same prepared bytes, of the size the cached API served on average. Whatever
// latency this shows at 32 connections is the load generator's, the loopback's and the
// machine's, not the API's.
//
//   node --import tsx bench/query-ceiling.ts <bodyBytes>   -> prints {"port":N}; SIGTERM stops it.
import { listen } from '../src/common/http.js';
import { loadUws } from '../src/common/uws.js';

const size = Math.max(2, Number(process.argv[2] ?? 1024));
const body = Buffer.alloc(size, 0x20);
body[0] = 0x7b; // '{'
body[size - 1] = 0x7d; // '}'
const app = loadUws().App();
app.any('/*', (res) => {
  res.writeStatus('200 OK').writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store').end(body);
});
const listening = await listen(app, '127.0.0.1', 0);
process.stdout.write(`${JSON.stringify({ port: listening.port })}\n`);
process.once('SIGTERM', () => {
  listening.closeAll();
  process.exit(0);
});
