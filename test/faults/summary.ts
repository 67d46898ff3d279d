// The fault suite's figures: each scenario records one line (printed at once) into a JSON file in
// os.tmpdir() shared by every jest worker of the run; the file whose afterAll records the last
// scenario prints the summary table (also the source of docs/reliability.md).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Every scenario of the suite, in table order. */
export const SCENARIOS = [
  'worker-crash',
  'redis-restart-aof-always',
  'redis-restart-aof-everysec',
  'connection-cut',
  'sentinel-failover',
  'tls',
  'load',
  'bad-input',
  'locks-limiters',
  'provider-outage',
  'cluster-failover',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** One scenario's figures. `faults`, `lost` and `duplicates` are always present. */
export interface ScenarioResult {
  scenario: Scenario;
  faults: number;
  jobs: number;
  lost: number;
  duplicates: number;
  /** Further figures, in print order (e.g. `handler re-runs`, `acknowledged`). */
  extra: Record<string, number | string>;
  passed: boolean;
  size: 'full' | 'reduced';
  seconds: number;
}

// One file per jest run: the global setup's private Redis (PID or URL) identifies the run.
function runId(): string {
  const id = process.env.PLATFORM_TEST_REDIS_PID ?? process.env.REDIS_URL ?? 'default';
  return id.replace(/[^A-Za-z0-9]/g, '_');
}

/** The JSON-lines file of the current run. */
export function summaryFile(): string {
  return join(tmpdir(), `platform-faults-${runId()}.jsonl`);
}

/** The line a scenario prints: `<scenario>: faults N, jobs lost 0, duplicates 0, ...`. */
export function formatLine(result: ScenarioResult): string {
  const extra = Object.entries(result.extra).map(([k, v]) => `${k} ${v}`);
  return [
    `${result.scenario}: faults ${result.faults}`,
    `jobs ${result.jobs}`,
    `jobs lost ${result.lost}`,
    `duplicates ${result.duplicates}`,
    ...extra,
    `${result.seconds.toFixed(1)} s`,
    result.passed ? 'ok' : 'FAILED',
  ].join(', ');
}

/** Prints the scenario's line and appends it to the run's summary file. */
export function recordScenario(result: ScenarioResult): void {
  console.log(formatLine(result));
  appendFileSync(summaryFile(), JSON.stringify(result) + '\n');
}

/** Everything recorded in this run so far (the latest line per scenario). */
export function readResults(file = summaryFile()): ScenarioResult[] {
  if (!existsSync(file)) return [];
  const latest = new Map<string, ScenarioResult>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const result = JSON.parse(line) as ScenarioResult;
    latest.set(result.scenario, result);
  }
  return SCENARIOS.flatMap((s) => (latest.has(s) ? [latest.get(s)!] : []));
}

/** The summary as a Markdown table. */
export function summaryTable(results: ScenarioResult[]): string {
  const rows = results.map((r) => {
    const extra = Object.entries(r.extra).map(([k, v]) => `${k} ${v}`).join('; ');
    return `| ${r.scenario} | ${r.size} | ${r.faults} | ${r.jobs} | ${r.lost} | ${r.duplicates} | ${extra} | ${r.seconds.toFixed(1)} | ${r.passed ? 'pass' : 'FAIL'} |`;
  });
  return [
    '| scenario | size | faults | jobs | lost | duplicates | details | seconds | result |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/**
 * Prints the summary table once every scenario of the suite has recorded its line (so it comes
 * from the afterAll of whichever file finishes last), or at once when `force` is set.
 */
export function printSummaryIfComplete(force = false): boolean {
  const results = readResults();
  const complete = SCENARIOS.every((s) => results.some((r) => r.scenario === s));
  if (!complete && !force) return false;
  console.log(`\nFault suite summary (${summaryFile()}):\n${summaryTable(results)}\n`);
  return true;
}

if (require.main === module) printSummaryIfComplete(true);
