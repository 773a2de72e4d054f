import { describe, expect, it } from 'vitest';
import { chooseLocalPorts } from './localports.js';

/** Free ports handed out in order; `taken` are the ports some other process holds. */
function ports(taken: number[], free: number[]) {
  const next = [...free];
  return {
    isFree: async (p: number) => !taken.includes(p),
    anyFree: async () => next.shift()!,
  };
}

describe('chooseLocalPorts (trackhouse start)', () => {
  it('uses LOCAL_KAFKA_PORT and LOCAL_KAFKA_CONTROLLER_PORT when free, without a notice', async () => {
    const p = ports([], []);
    expect(await chooseLocalPorts({ port: 9092, controllerPort: 9093 }, p.isFree, p.anyFree)).toEqual({ port: 9092, controllerPort: 9093, notices: [] });
  });

  it('says 0 means any free port, not that the port is taken', async () => {
    const p = ports([], [40001, 40002]);
    const r = await chooseLocalPorts({ port: 0, controllerPort: 0 }, p.isFree, p.anyFree);
    expect(r).toMatchObject({ port: 40001, controllerPort: 40002 });
    expect(r.notices.map((n) => [n.level, n.message])).toEqual([
      ['info', 'LOCAL_KAFKA_PORT=0: the local broker uses free port 40001'],
      ['info', 'LOCAL_KAFKA_CONTROLLER_PORT=0: the local broker uses free port 40002'],
    ]);
    expect(r.notices.map((n) => n.message).join()).not.toMatch(/taken/);
  });

  it('says a port is taken when it is, and which free port replaces it', async () => {
    const p = ports([9092, 9093], [40001, 40002]);
    const r = await chooseLocalPorts({ port: 9092, controllerPort: 9093 }, p.isFree, p.anyFree);
    expect(r).toMatchObject({ port: 40001, controllerPort: 40002 });
    expect(r.notices.map((n) => [n.level, n.message])).toEqual([
      ['warn', 'LOCAL_KAFKA_PORT=9092 is taken; the local broker uses free port 40001'],
      ['warn', 'LOCAL_KAFKA_CONTROLLER_PORT=9093 is taken; the local broker uses free port 40002'],
    ]);
  });

  it('never gives the controller the broker port', async () => {
    const p = ports([], [9092, 40002]);
    const r = await chooseLocalPorts({ port: 0, controllerPort: 0 }, p.isFree, p.anyFree);
    expect(r.port).toBe(9092);
    expect(r.controllerPort).toBe(40002);
  });
});
