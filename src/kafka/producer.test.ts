// Batching, bounds and deadlines of the project's producer, with kafkajs replaced by a fake that
// records each produce request and lets the test decide when Kafka answers. (That records reach
// a real broker durably is proven by the integration tests.)
import type { Kafka } from 'kafkajs';
import { CompressionTypes } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../common/log.js';
import { createRecordProducer, type OutRecord, type ProduceError, type RecordProducer } from './producer.js';

interface Sent {
  records: string[];
  resolve(): void;
  reject(err: Error): void;
}

class FakeKafka {
  readonly producers: { sent: Sent[]; disconnected: boolean }[] = [];
  get sent(): Sent[] {
    return this.producers.flatMap((p) => p.sent);
  }
  producer() {
    const p = { sent: [] as Sent[], disconnected: false };
    this.producers.push(p);
    return {
      connect: async () => undefined,
      disconnect: async () => void (p.disconnected = true),
      sendBatch: ({ topicMessages }: { topicMessages: { topic: string; messages: { value: Buffer }[] }[] }) =>
        new Promise<void>((resolve, reject) => {
          const records = topicMessages.flatMap((t) => t.messages.map((m) => `${t.topic}:${m.value.toString()}`));
          p.sent.push({ records, resolve, reject });
        }),
    };
  }
  admin() {
    return { connect: async () => undefined, disconnect: async () => undefined, fetchTopicMetadata: async () => ({ topics: [] }) };
  }
}

class Sub {
  result: ProduceError | null | undefined = undefined;
  readonly records: OutRecord[];
  readonly bytes: number;
  /** Values may be `key=value` to give a record its own key. */
  constructor(values: string[], bytesEach = 100) {
    this.records = values.map((v) => {
      const [key, value] = v.includes('=') ? v.split('=') : ['k', v];
      return { topic: 'events', key: key!, value: Buffer.from(value!) };
    });
    this.bytes = values.length * bytesEach;
  }
  settle(error: ProduceError | null): void {
    if (this.result !== undefined) throw new Error('settled twice');
    this.result = error;
  }
}

let fake: FakeKafka;
let producer: RecordProducer;

async function make(opts: { maxRequestBytes?: number; maxPendingBytes?: number; ackTimeoutMs?: number; lanes?: number; lingerMs?: number; lingerBytes?: number } = {}) {
  fake = new FakeKafka();
  producer = await createRecordProducer({
    kafka: fake as unknown as Kafka,
    log: silentLogger(),
    compression: CompressionTypes.None,
    ackTimeoutMs: opts.ackTimeoutMs ?? 10_000,
    maxPendingBytes: opts.maxPendingBytes ?? 1_000_000,
    maxRequestBytes: opts.maxRequestBytes ?? 1_000_000,
    lanes: opts.lanes ?? 1,
    lingerMs: opts.lingerMs,
    lingerBytes: opts.lingerBytes,
    probeTopic: 'events',
  });
}

/** Lets queued setImmediate/microtasks run (timers are fake). */
async function turn(ms = 0) {
  await vi.advanceTimersByTimeAsync(ms);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('batching producer', () => {
  it('packs requests of one event-loop turn into one produce request, and what arrives meanwhile into the next', async () => {
    await make();
    const a = new Sub(['a1', 'a2']);
    const b = new Sub(['b1']);
    expect(producer.submit(a)).toBe('queued');
    expect(producer.submit(b)).toBe('queued');
    await turn();
    expect(fake.sent.map((s) => s.records)).toEqual([['events:a1', 'events:a2', 'events:b1']]);
    const c = new Sub(['c1']);
    const d = new Sub(['d1']);
    producer.submit(c);
    producer.submit(d);
    await turn();
    expect(fake.sent).toHaveLength(1); // one request in flight at a time
    expect(a.result).toBeUndefined();
    fake.sent[0]!.resolve();
    await turn();
    expect([a.result, b.result, c.result]).toEqual([null, null, undefined]);
    expect(fake.sent.map((s) => s.records)).toEqual([['events:a1', 'events:a2', 'events:b1'], ['events:c1', 'events:d1']]);
    fake.sent[1]!.resolve();
    await turn();
    expect([c.result, d.result]).toEqual([null, null]);
    expect(producer.pendingBytes).toBe(0);
  });

  it('splits by maxRequestBytes and settles a submission only when all its parts are acknowledged', async () => {
    await make({ maxRequestBytes: 64 });
    const big = new Sub(['x'.repeat(20), 'y'.repeat(20), 'z'.repeat(20)]);
    producer.submit(big);
    for (let i = 0; i < 3; i++) {
      await turn();
      expect(fake.sent).toHaveLength(i + 1);
      expect(big.result).toBeUndefined();
      fake.sent[i]!.resolve();
    }
    await turn();
    expect(fake.sent.map((s) => s.records.length)).toEqual([1, 1, 1]);
    expect(big.result).toBeNull();
  });

  it('refuses beyond maxPendingBytes and takes more once bytes are acknowledged', async () => {
    await make({ maxPendingBytes: 250 });
    expect(producer.submit(new Sub(['1', '2']))).toBe('queued');
    expect(producer.submit(new Sub(['3', '4']))).toBe('full');
    expect(producer.pendingBytes).toBe(200);
    await turn();
    fake.sent[0]!.resolve();
    await turn();
    expect(producer.pendingBytes).toBe(0);
    expect(producer.submit(new Sub(['3', '4']))).toBe('queued');
  });

  it('settles by the ack deadline: queued records are then never sent, and a stuck Kafka is refused at once', async () => {
    await make({ ackTimeoutMs: 1_000 });
    const first = new Sub(['first']);
    producer.submit(first);
    await turn();
    const queued = new Sub(['queued']);
    producer.submit(queued);
    await turn(1_300);
    expect(first.result?.code).toBe('KAFKA_ACK_TIMEOUT');
    expect(queued.result?.code).toBe('KAFKA_ACK_TIMEOUT');
    expect(producer.submit(new Sub(['late']))).toBe('unavailable');
    await expect(producer.probe()).rejects.toThrow(/waited/);
    // Kafka answers at last: the queued record was dropped, not sent.
    fake.sent[0]!.resolve();
    await turn();
    expect(fake.sent.flatMap((s) => s.records)).toEqual(['events:first']);
    expect(producer.pendingBytes).toBe(0);
    await expect(producer.probe()).resolves.toBeUndefined();
  });

  it('a failed produce settles its submissions with the error and continues on a new kafkajs producer', async () => {
    await make();
    const a = new Sub(['a']);
    producer.submit(a);
    await turn();
    fake.sent[0]!.reject(new Error('OUT_OF_ORDER_SEQUENCE_NUMBER'));
    await turn();
    expect(a.result?.code).toBe('KAFKA_PRODUCE_FAILED');
    expect(a.result?.message).toContain('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(fake.producers.map((p) => p.disconnected)).toEqual([true, false]);
    const b = new Sub(['b']);
    producer.submit(b);
    await turn();
    expect(fake.producers[1]!.sent).toHaveLength(1);
    fake.producers[1]!.sent[0]!.resolve();
    await turn();
    expect(b.result).toBeNull();
  });

  it('with two lanes, keys keep one lane (and their order) while the lanes send side by side', async () => {
    await make({ lanes: 2 });
    // Find two keys that hash to different lanes.
    const probe = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const first = new Sub(probe.map((k) => `${k}=${k}-1`));
    producer.submit(first);
    await turn();
    const [laneA, laneB] = fake.producers.map((p) => p.sent[0]!.records.map((r) => r.split(':')[1]!.replace(/-1$/, '')));
    expect(laneA!.length + laneB!.length).toBe(20);
    expect(laneA!.length).toBeGreaterThan(0);
    expect(laneB!.length).toBeGreaterThan(0);
    // Both lanes have a request in flight at once; `first` waits for both.
    fake.producers[0]!.sent[0]!.resolve();
    await turn();
    expect(first.result).toBeUndefined();
    const a = laneA![0]!;
    const b = laneB![0]!;
    const second = new Sub([`${a}=${a}-2`, `${b}=${b}-2`]);
    producer.submit(second);
    await turn();
    // a's second event goes through a's lane (now free); b's waits behind b's first in lane B.
    expect(fake.producers[0]!.sent[1]!.records).toEqual([`events:${a}-2`]);
    expect(fake.producers[1]!.sent).toHaveLength(1);
    fake.producers[1]!.sent[0]!.resolve();
    await turn();
    expect(first.result).toBeNull();
    expect(fake.producers[1]!.sent[1]!.records).toEqual([`events:${b}-2`]);
    fake.producers[0]!.sent[1]!.resolve();
    fake.producers[1]!.sent[1]!.resolve();
    await turn();
    expect(second.result).toBeNull();
    expect(producer.pendingBytes).toBe(0);
  });

  it('close answers whatever Kafka never acknowledged and refuses new work', async () => {
    await make();
    const a = new Sub(['a']);
    producer.submit(a);
    await turn();
    const closing = producer.close(500);
    await turn(600);
    await closing;
    expect(a.result?.code).toBe('KAFKA_ACK_TIMEOUT');
    expect(producer.submit(new Sub(['b']))).toBe('closed');
  });
});

describe('linger', () => {
  /** recordSize of a Sub record with key 'k': value + 24 + 1. */
  const size = (value: string) => value.length + 25;

  it('holds records trickling in until the oldest has waited lingerMs, then sends them in one request', async () => {
    await make({ lingerMs: 5, lingerBytes: 10_000 });
    const a = new Sub(['a']);
    producer.submit(a);
    await turn(2);
    expect(fake.sent).toHaveLength(0);
    const b = new Sub(['b']);
    producer.submit(b);
    await turn(2);
    expect(fake.sent).toHaveLength(0);
    await turn(1); // a is 5 ms old
    expect(fake.sent.map((s) => s.records)).toEqual([['events:a', 'events:b']]);
    // While it is in flight, more queue; when it returns, the next waits for its own oldest record.
    const c = new Sub(['c']);
    producer.submit(c);
    await turn(3);
    fake.sent[0]!.resolve();
    await turn(1);
    expect([a.result, b.result]).toEqual([null, null]);
    expect(fake.sent).toHaveLength(1);
    await turn(1); // c is 5 ms old
    expect(fake.sent.map((s) => s.records)).toEqual([['events:a', 'events:b'], ['events:c']]);
    fake.sent[1]!.resolve();
    await turn();
    expect(c.result).toBeNull();
    expect(producer.pendingBytes).toBe(0);
  });

  it('sends at once when lingerBytes are queued, and when a record has already waited lingerMs in flight', async () => {
    await make({ lingerMs: 50, lingerBytes: 3 * size('xx') });
    producer.submit(new Sub(['x1', 'x2']));
    await turn(1);
    expect(fake.sent).toHaveLength(0);
    producer.submit(new Sub(['x3']));
    await turn();
    expect(fake.sent.map((s) => s.records)).toEqual([['events:x1', 'events:x2', 'events:x3']]);
    producer.submit(new Sub(['x4']));
    await turn(60); // x4 waits past lingerMs behind the request in flight
    fake.sent[0]!.resolve();
    await turn();
    expect(fake.sent.map((s) => s.records)).toEqual([['events:x1', 'events:x2', 'events:x3'], ['events:x4']]);
  });

  it('a free lane waits (at most lingerMs) until as many records are queued as its last request carried', async () => {
    // lingerBytes is met by one record: only the record count holds the lane back.
    await make({ lingerMs: 5, lingerBytes: size('a') });
    producer.submit(new Sub(['a', 'b', 'c']));
    await turn();
    expect(fake.sent).toHaveLength(1);
    producer.submit(new Sub(['d']));
    fake.sent[0]!.resolve();
    await turn(1);
    expect(fake.sent).toHaveLength(1); // 1 of 3 queued: the callers just answered may come back
    producer.submit(new Sub(['e']));
    await turn(1);
    expect(fake.sent).toHaveLength(1);
    producer.submit(new Sub(['f']));
    await turn();
    expect(fake.sent.map((s) => s.records)).toEqual([['events:a', 'events:b', 'events:c'], ['events:d', 'events:e', 'events:f']]);
    // Nobody comes back: the next record waits lingerMs and no more.
    const g = new Sub(['g']);
    producer.submit(g);
    fake.sent[1]!.resolve();
    await turn(4);
    expect(fake.sent).toHaveLength(2);
    await turn(1);
    expect(fake.sent).toHaveLength(3);
    fake.sent[2]!.resolve();
    await turn();
    expect(g.result).toBeNull();
    // Its last request carried one record: the next record is sent as soon as the lane is free.
    producer.submit(new Sub(['h']));
    await turn();
    expect(fake.sent.map((s) => s.records).at(-1)).toEqual(['events:h']);
  });

  it('does not wait for more records once a large request is queued', async () => {
    await make({ lingerMs: 50, lingerBytes: size('a') });
    producer.submit(new Sub(['a', 'b', 'c', 'd', 'e']));
    await turn();
    const big = 'x'.repeat(100 * 1024);
    producer.submit(new Sub([big, big, big]));
    fake.sent[0]!.resolve();
    await turn();
    expect(fake.sent).toHaveLength(2); // 3 of 5 records, but 300 KB: sent at once
    expect(fake.sent[1]!.records).toHaveLength(3);
  });

  it('delivers every record once, in order per key, over two lanes, with requests arriving at any time', async () => {
    await make({ lanes: 2, lingerMs: 3, lingerBytes: 8 * size('u0-000') });
    const users = Array.from({ length: 6 }, (_, i) => `u${i}`);
    const subs: Sub[] = [];
    let seq = 0;
    // A fixed pseudo-random schedule: submissions of 1-3 records, some ms apart; Kafka answers each
    // request a few ms after it is sent.
    let x = 7;
    const rnd = (n: number) => (x = (x * 1103515245 + 12345) % 2 ** 31) % n;
    const answered = new Set<Sent>();
    for (let step = 0; step < 200; step++) {
      if (rnd(3) !== 0) {
        const n = 1 + rnd(3);
        const vals = Array.from({ length: n }, () => {
          const u = users[rnd(users.length)]!;
          return `${u}=${u}-${String(seq++).padStart(3, '0')}`;
        });
        const sub = new Sub(vals);
        expect(producer.submit(sub)).toBe('queued');
        subs.push(sub);
      }
      await turn(rnd(3));
      for (const s of fake.sent) {
        if (!answered.has(s) && rnd(2) === 0) {
          answered.add(s);
          s.resolve();
        }
      }
    }
    for (let i = 0; i < 20; i++) {
      await turn(5);
      for (const s of fake.sent) if (!answered.has(s)) (answered.add(s), s.resolve());
    }
    await turn();
    expect(subs.every((s) => s.result === null)).toBe(true);
    const sent = fake.sent.flatMap((s) => s.records.map((r) => r.split(':')[1]!));
    expect(sent).toHaveLength(seq);
    expect(new Set(sent).size).toBe(seq);
    for (const u of users) {
      const mine = sent.filter((v) => v.startsWith(`${u}-`));
      expect(mine).toEqual([...mine].sort());
    }
    // Lingering packed them: fewer requests than submissions.
    expect(fake.sent.length).toBeLessThan(subs.length / 2);
    expect(producer.pendingBytes).toBe(0);
  });

  it('keeps the ack deadline: a record lingering past it is answered with a timeout and never sent', async () => {
    // Two one-letter records reach lingerBytes; one does not.
    await make({ ackTimeoutMs: 100, lingerMs: 1_000, lingerBytes: 2 * size('a') - 1 });
    const a = new Sub(['a']);
    producer.submit(a);
    await turn(400);
    expect(a.result?.code).toBe('KAFKA_ACK_TIMEOUT');
    await turn(700);
    expect(fake.sent).toHaveLength(0);
    expect(producer.pendingBytes).toBe(0);
    // The timed-out record no longer counts towards lingerBytes: the next one lingers as it did.
    producer.submit(new Sub(['b']));
    await turn(10);
    expect(fake.sent).toHaveLength(0);
  });

  it('close sends what lingers at once', async () => {
    await make({ lingerMs: 1_000, lingerBytes: 10_000 });
    const a = new Sub(['a']);
    producer.submit(a);
    await turn(1);
    const closing = producer.close(5_000);
    await turn();
    expect(fake.sent.map((s) => s.records)).toEqual([['events:a']]);
    fake.sent[0]!.resolve();
    await turn();
    await closing;
    expect(a.result).toBeNull();
  });
});
