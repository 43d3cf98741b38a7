import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/lib/project-root';

/** One measured line: the API's figure beside the baseline's. */
export interface Line {
  name: string;
  unit: string;
  api: number;
  baseline: number;
  /** Latencies (ms) of request benchmarks: p50 and p99, API then baseline. */
  latency?: { api: [number, number]; baseline: [number, number] };
}

export interface Verdict {
  target: string;
  measured: string;
  met: boolean;
}

const DOC = path.join(PROJECT_ROOT, 'docs', 'PERFORMANCE.md');

const round = (value: number, digits = 1) => Number(value.toFixed(digits)).toLocaleString('en-US');
const ratio = (line: Line) => (line.baseline ? `${(line.api / line.baseline).toFixed(2)}x` : 'n/a');

export function table(lines: Line[]): string {
  const rows = lines.map((line) => {
    const latency = line.latency
      ? `${round(line.latency.api[0])} / ${round(line.latency.api[1])} | ${round(line.latency.baseline[0])} / ${round(line.latency.baseline[1])}`
      : '- | -';
    return `| ${line.name} | ${round(line.api)} ${line.unit} | ${round(line.baseline)} ${line.unit} | ${ratio(line)} | ${latency} |`;
  });
  return [
    '| benchmark | API | baseline | API / baseline | API p50 / p99 ms | baseline p50 / p99 ms |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export function verdicts(list: Verdict[]): string {
  return ['| target | measured | met |', '|---|---|---|', ...list.map((v) => `| ${v.target} | ${v.measured} | ${v.met ? 'yes' : '**no**'} |`)].join('\n');
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
