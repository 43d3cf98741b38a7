import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/lib/project-root';

/** What a line must reach: its figure is compared with the baseline's (a ratio) or with a bound. */
export interface Target {
  text: string;
  met: boolean;
}

/** One measured line: the API's figure beside the baseline's, the machine's load when it was taken, and its target. */
export interface Line {
  name: string;
  unit: string;
  api: number;
  baseline: number;
  /** Latencies (ms) of request benchmarks: p50 and p99, API then baseline. */
  latency?: { api: [number, number]; baseline: [number, number] };
  /** The 1-minute load average when the line was measured: other work on the machine shifts every figure. */
  load: number;
  targets: Target[];
}

const DOC = path.join(PROJECT_ROOT, 'docs', 'PERFORMANCE.md');

const round = (value: number, digits = 1) => Number(value.toFixed(digits)).toLocaleString('en-US');
export const ratioOf = (line: Pick<Line, 'api' | 'baseline'>) => (line.baseline ? line.api / line.baseline : 0);

/** The load average now (1 minute): taken right after each measurement. */
export const loadNow = () => os.loadavg()[0]!;

export function table(lines: Line[]): string {
  const rows = lines.map((line) => {
    const latency = line.latency
      ? `${round(line.latency.api[0])} / ${round(line.latency.api[1])} | ${round(line.latency.baseline[0])} / ${round(line.latency.baseline[1])}`
      : '- | -';
    const targets = line.targets.length ? line.targets.map((target) => `${target.text}: ${target.met ? 'met' : '**not met**'}`).join('; ') : '-';
    const ratio = line.baseline ? `${ratioOf(line).toFixed(2)}x` : 'n/a';
    return `| ${line.name} | ${round(line.api)} ${line.unit} | ${round(line.baseline)} ${line.unit} | ${ratio} | ${latency} | ${line.load.toFixed(1)} | ${targets} |`;
  });
  return [
    '| benchmark | API | baseline | API / baseline | API p50 / p99 ms | baseline p50 / p99 ms | load | target |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/**
 * Writes the figures into docs/PERFORMANCE.md between the `<!-- name:start -->` and `<!-- name:end -->`
 * markers (`bench`, `soak`), keeping the hand-written text around them (how to read the figures, why a
 * target is missed).
 */
export function writeDoc(generated: string, name = 'bench'): void {
  const START = `<!-- ${name}:start -->`;
  const END = `<!-- ${name}:end -->`;
  const block = `${START}\n${generated}\n${END}`;
  if (!existsSync(DOC)) {
    writeFileSync(DOC, `# Performance\n\n${block}\n`);
    return;
  }
  const current = readFileSync(DOC, 'utf8');
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  writeFileSync(DOC, start === -1 || end === -1 ? `${current.trimEnd()}\n\n${block}\n` : `${current.slice(0, start)}${block}${current.slice(end + END.length)}`);
}
