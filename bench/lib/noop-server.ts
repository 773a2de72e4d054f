// Ceiling: a uWebSockets.js server that reads the whole body and answers 200 {"success":true},
// doing nothing else. Same load generator and bodies as trackhouse.  PORT=<port>
import { loadUws } from '../../src/common/uws.js';

const port = Number(process.env.PORT);
// The same native build trackhouse loads on this Node (never the package's JS fallback).
const app = loadUws().App();
app.post('/*', (res) => {
  res.onAborted(() => undefined);
  res.onData((_chunk, isLast) => {
    if (isLast) res.writeStatus('200 OK').writeHeader('Content-Type', 'application/json').end('{"success":true}');
  });
});
app.listen('127.0.0.1', port, (s) => {
  if (!s) {
    process.stderr.write(`noop server could not listen on ${port}\n`);
    process.exit(1);
  }
});
process.on('SIGTERM', () => process.exit(0));
