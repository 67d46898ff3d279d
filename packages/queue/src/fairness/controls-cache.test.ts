import { needsStartCheck } from './controls-cache';

describe('needsStartCheck (which runtime controls a starting job is checked against)', () => {
  it('a pause, a maxActive or a rate override: checked at start', () => {
    expect(needsStartCheck(JSON.stringify({ pause: { atMs: 1, by: 'ops' } }))).toBe(true);
    expect(needsStartCheck(JSON.stringify({ pause: { atMs: 1, by: 'ops', untilMs: 5 } }))).toBe(true);
    expect(needsStartCheck(JSON.stringify({ limits: { atMs: 1, by: 'ops', values: { maxActive: 1 } } }))).toBe(true);
    expect(needsStartCheck(JSON.stringify({ limits: { atMs: 1, by: 'ops', values: { weight: 2, rateMax: 5, rateDurationMs: 1000 } } }))).toBe(true);
    // maxActive 0 removes a limit of the code: still checked (the code's limit would otherwise apply).
    expect(needsStartCheck(JSON.stringify({ limits: { atMs: 1, by: 'ops', values: { maxActive: 0 } } }))).toBe(true);
  });

  it('an override of weight or maxPending only acts at enqueue and hand-out: the fast path stays', () => {
    expect(needsStartCheck(JSON.stringify({ limits: { atMs: 1, by: 'ops', values: { weight: 2 } } }))).toBe(false);
    expect(needsStartCheck(JSON.stringify({ limits: { atMs: 1, by: 'ops', values: { weight: 2, maxPending: 10 } } }))).toBe(false);
  });

  it('anything it cannot read is checked (the script decides)', () => {
    expect(needsStartCheck('{not json')).toBe(true);
    expect(needsStartCheck('null')).toBe(true);
    expect(needsStartCheck(JSON.stringify({ limits: { atMs: 1, by: 'ops' } }))).toBe(true);
  });
});
