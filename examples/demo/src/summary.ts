/** Renders rows as a fixed-width text table (first row is the header). */
export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => String(row[col] ?? '').length)));
  const line = (row: (string | number)[]) =>
    row.map((cell, col) => (typeof cell === 'number' ? String(cell).padStart(widths[col]!) : String(cell).padEnd(widths[col]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Counts by two keys (e.g. queue and tenant). */
export class Tally {
  private readonly counts = new Map<string, Map<string, number>>();

  add(a: string, b: string, n = 1): void {
    let inner = this.counts.get(a);
    if (!inner) this.counts.set(a, (inner = new Map()));
    inner.set(b, (inner.get(b) ?? 0) + n);
  }

  get(a: string, b: string): number {
    return this.counts.get(a)?.get(b) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const inner of this.counts.values()) for (const n of inner.values()) sum += n;
    return sum;
  }

  rows(): string[] {
    return [...this.counts.keys()].sort();
  }

  columns(): string[] {
    const all = new Set<string>();
    for (const inner of this.counts.values()) for (const key of inner.keys()) all.add(key);
    return [...all].sort();
  }
}
