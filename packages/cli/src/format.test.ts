import { InvalidArgumentError } from '@platform/redis';
import { formatAge, parseSince, progressBar, renderTable } from './format';

describe('CLI formatting helpers', () => {
  const now = Date.parse('2026-01-31T12:00:00Z');

  it('parses --since as a duration back from now or as an ISO date', () => {
    expect(parseSince('30m', now)).toBe(now - 30 * 60_000);
    expect(parseSince('1h', now)).toBe(now - 3_600_000);
    expect(parseSince('2d', now)).toBe(now - 2 * 86_400_000);
    expect(parseSince('90s', now)).toBe(now - 90_000);
    expect(parseSince('2026-01-30T00:00:00Z', now)).toBe(Date.parse('2026-01-30T00:00:00Z'));
    for (const bad of ['yesterday', '1y', '', '-1h', '2026-13-45']) {
      expect(() => parseSince(bad, now)).toThrow(InvalidArgumentError);
    }
  });

  it('renders aligned tables with multi-line cells', () => {
    expect(renderTable(['A', 'LONG HEADER'], [['x', 'one\ntwo'], ['yyyy', 'z']])).toBe(
      ['A     LONG HEADER', 'x     one', '      two', 'yyyy  z'].join('\n'),
    );
  });

  it('formats ages and progress', () => {
    expect(formatAge(null)).toBe('-');
    expect(formatAge(5_000)).toBe('5 s');
    expect(formatAge(120_000)).toBe('2 min');
    expect(formatAge(5_400_000)).toBe('1.5 h');
    expect(progressBar(5, 10, 10)).toBe('[#####-----]  50% 5/10');
    expect(progressBar(0, 0, 4)).toBe('[####] 100% 0/0');
  });
});
