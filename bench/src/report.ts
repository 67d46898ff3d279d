import type { MachineInfo } from './machine';
import type { EvaluatedComparison, Results } from './results';

function fmt(value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return value < 1 ? value.toFixed(3) : value.toFixed(2);
  if (unit === 'B') return value.toFixed(0);
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

function fmtRatio(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return 'n/a';
  // Three significant digits, so a ratio just under its target (0.997 for >= 1) does not print as 1.00.
  return `${ratio === 0 ? '0' : ratio.toPrecision(3)}x`;
}

export interface ReportInput {
  results: Results;
  machine: MachineInfo;
  quick: boolean;
  rounds: number;
  startedAt: Date;
  elapsedSeconds: number;
  redisSource: string;
  /** 1-minute load average when the run started. */
  loadAtStart: number;
}

/** The report as Markdown (also printed to the terminal as is). */
export function renderReport(input: ReportInput): { markdown: string; comparisons: EvaluatedComparison[] } {
  const { results, machine } = input;
  const comparisons = results.evaluate();
  const lines: string[] = [];
  lines.push(`# Benchmark results${input.quick ? ' (quick run: tiny sizes, figures are not meaningful)' : ''}`);
  lines.push('');
  lines.push(`Run started ${input.startedAt.toISOString()}, took ${input.elapsedSeconds.toFixed(0)} s, ${input.rounds} round(s) per figure, `);
  lines.push(`platform and anchors alternating within each round, on ${input.redisSource}. Regenerate with \`npm run bench\` (see bench/README.md).`);
  const busiest = Math.max(input.loadAtStart, Number(machine.loadAverage.split(' ')[0]));
  if (busiest > machine.cores / 2) {
    lines.push('');
    lines.push(
      `**The machine was busy during this run** (1-minute load average up to ${busiest.toFixed(1)} on ${machine.cores} cores): ` +
        'absolute figures and min..max spreads are noisy. Regenerate on a quiet machine before relying on them.',
    );
  }
  lines.push('');
  lines.push('## Machine');
  lines.push('');
  lines.push(`- CPU: ${machine.cpu}, ${machine.cores} cores; memory ${machine.memoryGiB} GiB; ${machine.os}`);
  lines.push(`- Load average at the start of the run: ${input.loadAtStart.toFixed(2)}, at the end: ${machine.loadAverage} (a busy machine makes every figure noisy; the ratios are the robust part)`);
  lines.push(`- Node ${machine.node}; Redis ${machine.redis}`);
  lines.push(`- Packages: ${Object.entries(machine.packages).map(([n, v]) => `${n} ${v}`).join(', ')}`);
  lines.push('');
  lines.push('## Targets');
  lines.push('');
  lines.push('| Comparison | Platform (median) | Anchor (median) | Ratio | Target | Result |');
  lines.push('|---|---:|---:|---:|---:|---|');
  const unitOf = (id: string) => results.figures.get(id)?.unit ?? '';
  for (const c of comparisons.filter((x) => x.op)) {
    lines.push(`| ${c.label} | ${fmt(c.platformMedian, unitOf(c.platform))} | ${fmt(c.anchorMedian, unitOf(c.anchor))} | ${fmtRatio(c.ratio)} | ${c.op} ${c.target}x | ${c.verdict === 'n/a' ? 'n/a (not available)' : c.verdict} |`);
  }
  lines.push('');
  lines.push('## Other ratios (informative)');
  lines.push('');
  lines.push('| Comparison | Platform (median) | Anchor (median) | Ratio |');
  lines.push('|---|---:|---:|---:|');
  for (const c of comparisons.filter((x) => !x.op)) {
    lines.push(`| ${c.label} | ${fmt(c.platformMedian, unitOf(c.platform))} | ${fmt(c.anchorMedian, unitOf(c.anchor))} | ${fmtRatio(c.ratio)} |`);
  }
  lines.push('');
  lines.push('## Every figure');
  lines.push('');
  lines.push('| Section | Benchmark | Subject | Unit | Min | Median | Max | Rounds |');
  lines.push('|---|---|---|---|---:|---:|---:|---:|');
  for (const f of results.figures.values()) {
    const s = results.summary(f.id);
    const better = f.better === 'higher' ? '(higher is better)' : '(lower is better)';
    if (!s) {
      lines.push(`| ${f.section} | ${f.benchmark} | ${f.subject} | ${f.unit} | not available | | | 0 |`);
      continue;
    }
    lines.push(`| ${f.section} | ${f.benchmark} | ${f.subject} | ${f.unit} ${better} | ${fmt(s.min, f.unit)} | ${fmt(s.median, f.unit)} | ${fmt(s.max, f.unit)} | ${f.samples.length} |`);
  }
  if (results.unavailable.length > 0) {
    lines.push('');
    lines.push('## Not available in this run');
    lines.push('');
    for (const u of results.unavailable) lines.push(`- ${u.section}: ${u.reason}`);
  }
  if (results.notes.length > 0) {
    lines.push('');
    lines.push('## How each figure was measured');
    lines.push('');
    for (const note of results.notes) lines.push(`- ${note}`);
  }
  lines.push('');
  return { markdown: lines.join('\n'), comparisons };
}
