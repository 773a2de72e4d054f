import { describe, expect, it } from 'vitest';
import { MAX_USERS_PER_REGULATION, parseRegulationBody, parseSegmentRegulation, regulationReply, segmentCreatedReply, segmentErrorBody, segmentRegulationReply } from './bodies.js';
import type { Regulation } from '../erasure/index.js';

describe('regulation bodies', () => {
  it('reads a regulation request and names the field at fault', () => {
    expect(parseRegulationBody('{"type":"suppress_with_delete","user_ids":["u1","u2"]}')).toEqual({ type: 'suppress_with_delete', userIds: ['u1', 'u2'] });
    expect(() => parseRegulationBody('{')).toThrow(expect.objectContaining({ code: 'malformed_json' }));
    expect(() => parseRegulationBody('[]')).toThrow(expect.objectContaining({ parameter: 'body' }));
    expect(() => parseRegulationBody('{"type":"erase","user_ids":["u"]}')).toThrow(expect.objectContaining({ parameter: 'type' }));
    expect(() => parseRegulationBody('{"type":"delete"}')).toThrow(expect.objectContaining({ parameter: 'user_ids' }));
    expect(() => parseRegulationBody('{"type":"delete","user_ids":["ok", 7]}')).toThrow(expect.objectContaining({ parameter: 'user_ids', message: expect.stringContaining('user_ids[1]') }));
    expect(() => parseRegulationBody('{"type":"delete","user_ids":[""]}')).toThrow(expect.objectContaining({ parameter: 'user_ids' }));
    const many = JSON.stringify({ type: 'delete', user_ids: Array.from({ length: MAX_USERS_PER_REGULATION + 1 }, (_, i) => `u${i}`) });
    expect(() => parseRegulationBody(many)).toThrow(expect.objectContaining({ parameter: 'user_ids' }));
    expect(() => parseRegulationBody('{"type":"delete","user_ids":["u"],"regulation":"x"}')).toThrow(expect.objectContaining({ parameter: 'regulation' }));
  });

  it('answers a regulation with how many users, never their ids', () => {
    const body = regulationReply({
      id: 'reg_1',
      type: 'delete',
      status: 'finished',
      actor: 'dpo',
      userKeys: ['alice@example.com'],
      createdAt: 0,
      finishedAt: 1000,
      counts: { events: 3, days: 2, viewEvents: 3 },
      error: null,
    });
    expect(body).toEqual({
      id: 'reg_1',
      type: 'delete',
      status: 'finished',
      actor: 'dpo',
      users: 1,
      created_at: '1970-01-01T00:00:00.000Z',
      finished_at: '1970-01-01T00:00:01.000Z',
      counts: { events: 3, rollup_days: 2, view_events: 3 },
      error: null,
    });
    expect(JSON.stringify(body)).not.toContain('alice');
  });

  it("reads Segment's Public API request (CreateWorkspaceRegulationV1Input) as the same regulation, and names the field at fault", () => {
    const body = (regulationType: unknown, subjectIds: unknown = ['u1', 'u2'], subjectType: unknown = 'USER_ID') => JSON.stringify({ regulationType, subjectType, subjectIds });
    expect(parseSegmentRegulation(body('SUPPRESS_WITH_DELETE'))).toEqual({ type: 'suppress_with_delete', userIds: ['u1', 'u2'] });
    expect(parseSegmentRegulation(body('SUPPRESS_WITH_DELETE_INTERNAL')).type).toBe('suppress_with_delete');
    expect(parseSegmentRegulation(body('DELETE_ONLY')).type).toBe('delete');
    expect(parseSegmentRegulation(body('DELETE_INTERNAL')).type).toBe('delete');
    expect(parseSegmentRegulation(body('SUPPRESS_ONLY')).type).toBe('suppress');
    expect(() => parseSegmentRegulation(body('UNSUPPRESS'))).toThrow(expect.objectContaining({ parameter: 'regulationType', message: expect.stringContaining('does not lift a suppression') }));
    expect(() => parseSegmentRegulation(body('delete'))).toThrow(expect.objectContaining({ parameter: 'regulationType' }));
    expect(() => parseSegmentRegulation(body('DELETE_ONLY', ['u'], 'OBJECT_ID'))).toThrow(expect.objectContaining({ parameter: 'subjectType' }));
    expect(() => parseSegmentRegulation(body('DELETE_ONLY', []))).toThrow(expect.objectContaining({ parameter: 'subjectIds' }));
    expect(() => parseSegmentRegulation(body('DELETE_ONLY', ['ok', 7]))).toThrow(expect.objectContaining({ parameter: 'subjectIds', message: expect.stringContaining('subjectIds[1]') }));
    expect(() => parseSegmentRegulation(body('DELETE_ONLY', Array.from({ length: MAX_USERS_PER_REGULATION + 1 }, (_, i) => `u${i}`)))).toThrow(expect.objectContaining({ parameter: 'subjectIds' }));
    expect(() => parseSegmentRegulation('{"regulationType":"DELETE_ONLY","subjectType":"USER_ID","subjectIds":["u"],"type":"delete"}')).toThrow(expect.objectContaining({ parameter: 'type' }));
    expect(() => parseSegmentRegulation('[')).toThrow(expect.objectContaining({ code: 'malformed_json' }));
  });

  it("answers in Segment's shapes: the id when created, the overall status when asked; never the user ids", () => {
    const r: Regulation = { id: 'reg_1', type: 'delete', status: 'running', actor: 'dpo', userKeys: ['alice@example.com'], createdAt: 0, finishedAt: null, counts: null, error: null };
    expect(segmentCreatedReply(r)).toEqual({ data: { regulateId: 'reg_1' } });
    expect(segmentRegulationReply(r)).toEqual({ data: { regulation: { id: 'reg_1', workspaceId: 'trackhouse', overallStatus: 'RUNNING', createdAt: '1970-01-01T00:00:00.000Z', streamStatus: [] } } });
    const done = segmentRegulationReply({ ...r, status: 'finished', finishedAt: 1000, counts: { events: 3, days: 1, viewEvents: 3 } });
    expect(done).toMatchObject({ data: { regulation: { overallStatus: 'FINISHED', finishedAt: '1970-01-01T00:00:01.000Z' } } });
    expect(segmentRegulationReply({ ...r, status: 'failed', finishedAt: 1000 })).toMatchObject({ data: { regulation: { overallStatus: 'FAILED' } } });
    expect(JSON.stringify(done)).not.toContain('alice');
  });

  it("puts Segment's error envelope beside trackhouse's error body", () => {
    expect(JSON.parse(segmentErrorBody({ status: 400, body: '{"error":"invalid_parameter","parameter":"subjectIds","message":"subjectIds must be ..."}' }))).toEqual({
      error: 'invalid_parameter',
      parameter: 'subjectIds',
      message: 'subjectIds must be ...',
      errors: [{ type: 'invalid_parameter', field: 'subjectIds', message: 'subjectIds must be ...', status: 400 }],
    });
    expect(JSON.parse(segmentErrorBody({ status: 401, body: '{"error":"unauthorized","message":"not an admin key"}' }))).toEqual({
      error: 'unauthorized',
      message: 'not an admin key',
      errors: [{ type: 'unauthorized', message: 'not an admin key', status: 401 }],
    });
  });
});
