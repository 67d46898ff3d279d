/** Renders rows as a fixed-width text table (first row is the header). */
export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => String(row[col] ?? '').length)));
  const line = (row: (string | number)[]) =>
    row.map((cell, col) => (typeof cell === 'number' ? String(cell).padStart(widths[col]!) : String(cell).padEnd(widths[col]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
