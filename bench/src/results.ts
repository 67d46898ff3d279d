import { summarize, type Summary } from './measure';

/** Which way a figure is better. */
export type Better = 'higher' | 'lower';

/** One measured figure: its samples (one per round) and how to show it. */
export interface Figure {
  id: string;
  section: string;
  benchmark: string;
  subject: string;
  unit: string;
  better: Better;
  samples: number[];
  note?: string;
}

/** A ratio platform / anchor of medians, with an optional target the ratio should meet. */
export interface Comparison {
  label: string;
  platform: string;
  anchor: string;
  /** `>=`: ratio must be at least `target`; `<=`: at most. Absent: informative only. */
  op?: '>=' | '<=';
  target?: number;
}

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export interface EvaluatedComparison extends Comparison {
  platformMedian: number | undefined;
  anchorMedian: number | undefined;
  ratio: number | undefined;
  verdict: Verdict | undefined;
}

/** Everything one run measured. */
export class Results {
  readonly figures = new Map<string, Figure>();
  readonly comparisons: Comparison[] = [];
  /** Sections (or parts) that could not run, with the reason. */
  readonly unavailable: { section: string; reason: string }[] = [];
  /** Free-form notes printed under the tables (methods, sizes). */
  readonly notes: string[] = [];

  figure(spec: Omit<Figure, 'samples'>): Figure {
    let found = this.figures.get(spec.id);
    if (!found) {
      found = { ...spec, samples: [] };
      this.figures.set(spec.id, found);
    }
    return found;
  }

  add(id: string, value: number): void {
    const figure = this.figures.get(id);
    if (!figure) throw new Error(`unknown figure ${id}`);
    figure.samples.push(value);
  }

  summary(id: string): Summary | undefined {
    const figure = this.figures.get(id);
    if (!figure || figure.samples.length === 0) return undefined;
    return summarize(figure.samples);
  }

  compare(comparison: Comparison): void {
    this.comparisons.push(comparison);
  }

  markUnavailable(section: string, reason: string): void {
    this.unavailable.push({ section, reason });
  }

  evaluate(): EvaluatedComparison[] {
    return this.comparisons.map((c) => {
      const p = this.summary(c.platform)?.median;
      const a = this.summary(c.anchor)?.median;
      const ratio = p !== undefined && a !== undefined && a > 0 ? p / a : undefined;
      let verdict: Verdict | undefined;
      if (c.op && c.target !== undefined) {
        if (ratio === undefined) verdict = 'n/a';
        else verdict = (c.op === '>=' ? ratio >= c.target : ratio <= c.target) ? 'PASS' : 'MISS';
      }
      return { ...c, platformMedian: p, anchorMedian: a, ratio, verdict };
    });
  }
}

export interface Contender {
  /** Shown in progress output. */
  name: string;
  /** Runs one measurement and records its figures. */
  run(round: number): Promise<void>;
}

/**
 * Runs each contender once per round, rotating the order every round so that neither side always
 * goes first (or always runs on a warmer or more fragmented Redis).
 */
export async function alternate(rounds: number, contenders: readonly Contender[], log: (line: string) => void): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const contender = contenders[(k + round) % contenders.length]!;
      await contender.run(round);
    }
    log(`    round ${round + 1}/${rounds} done`);
  }
}
