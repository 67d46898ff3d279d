import { InvalidArgumentError } from '@platform/redis';

/** Renders rows as a left-aligned text table with a header row; cells may hold several lines. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const split = (cell: string) => cell.split('\n');
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((row) => Math.max(...split(row[i] ?? '').map((line) => line.length)))),
  );
  const renderLine = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [renderLine(header)];
  for (const row of rows) {
    const lines = row.map(split);
    const height = Math.max(...lines.map((l) => l.length));
    for (let n = 0; n < height; n++) out.push(renderLine(lines.map((l) => l[n] ?? '')));
  }
  return out.join('\n');
}

/** `90 s`, `12 min`, `3.5 h`, `2.0 d`: a short human duration. */
export function formatAge(ms: number | null): string {
  if (ms === null) return '-';
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses `--since`: an ISO 8601 date/time (`2026-01-31T12:00:00Z`) or a duration back from `now`
 * (`90s`, `30m`, `1h`, `2d`, `1w`). Returns ms since the epoch.
 * @throws InvalidArgumentError naming `--since`.
 */
export function parseSince(text: string, now: number = Date.now()): number {
  const trimmed = text.trim();
  const relative = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(trimmed);
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!.toLowerCase()]!;
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const at = Date.parse(trimmed);
    if (Number.isFinite(at)) return at;
  }
  throw new InvalidArgumentError('--since', `"${text}" is neither an ISO date (2026-01-31T12:00:00Z) nor a duration such as 30m, 1h or 2d`);
}

/** Parses a positive integer option. */
export function parsePositiveInt(name: string, text: string, allowZero = false): number {
  if (!/^\d+$/.test(text.trim()) || (!allowZero && Number(text) === 0)) {
    throw new InvalidArgumentError(name, `must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${text}"`);
  }
  return Number(text);
}

/** Parses `--port`: 0 (pick a free one) to 65535. */
export function parsePort(text: string): number {
  const port = parsePositiveInt('--port', text, true);
  if (port > 65_535) throw new InvalidArgumentError('--port', `must be a TCP port from 0 to 65535, got "${text}"`);
  return port;
}

/** A one-line progress bar: `[##########----------]  50% 20/40`. */
export function progressBar(done: number, total: number, width = 30): string {
  const ratio = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ${done}/${total}`;
}
