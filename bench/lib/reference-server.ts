// Reference: the ingest server most teams write first. node:http, the body gathered by string
// concatenation, JSON.parse, one kafkajs producer.send per HTTP request with acks=all, 200 once
// it resolves. No validation beyond JSON, no batching across requests, no compression.
// PORT=<port> BROKERS=<host:port,...> TOPIC=<topic>
import http from 'node:http';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const kafka = new Kafka({ clientId: 'reference', brokers: process.env.BROKERS!.split(','), logLevel: logLevel.ERROR });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
const topic = process.env.TOPIC!;

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', async () => {
    try {
      const parsed = JSON.parse(body) as { batch?: Record<string, unknown>[] } & Record<string, unknown>;
      const events = req.url === '/v1/batch' ? parsed.batch! : [parsed];
      await producer.send({
        topic,
        acks: -1,
        messages: events.map((e) => ({ key: String(e.userId ?? e.anonymousId), value: JSON.stringify({ ...e, receivedAt: new Date().toISOString() }) })),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) }));
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void producer.disconnect().then(() => process.exit(0));
});
