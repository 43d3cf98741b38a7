/**
 * What an operator reads about configuration names exactly what the server reads: every variable declared in
 * config/variables.ts is in `.env.example` and in README's configuration table, and neither names a
 * variable the server ignores.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { variablesOf } from '../src/config/declaration';
import { variables } from '../src/config/variables';
import { PROJECT_ROOT } from '../src/lib/project-root';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

const schemaNames = sorted(variablesOf(variables).map((variable) => variable.env));

/** `NAME=value` or `# NAME=value` (a commented example) at the start of a line. */
const exampleNames = sorted([...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]!));

/** The first cell of each row of a document's configuration table (`A`, `B` name two variables). */
function tableNames(file: string): string[] {
  const text = read(file);
  const section = text.slice(text.indexOf('## Configuration'), text.indexOf('\n## ', text.indexOf('## Configuration') + 1));
  const firstCells = [...section.matchAll(/^\| ([^|]+) \|/gm)].map((match) => match[1]!);
  return sorted(firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!)));
}

describe('configuration documentation', () => {
  it('when an operator reads .env.example, then it names every variable the server reads, and no other', () => {
    expect({ missing: schemaNames.filter((name) => !exampleNames.includes(name)), unknown: exampleNames.filter((name) => !schemaNames.includes(name)) }).toEqual({
      missing: [],
      unknown: [],
    });
  });

  it("when an operator reads README's configuration table, then it names every variable the server reads, and no other", () => {
    const documented = tableNames('README.md');
    expect({ missing: schemaNames.filter((name) => !documented.includes(name)), unknown: documented.filter((name) => !schemaNames.includes(name)) }).toEqual({
      missing: [],
      unknown: [],
    });
  });

  it("when an operator reads OPERATIONS.md's configuration table, then every variable it names is one the server reads", () => {
    const documented = tableNames('docs/OPERATIONS.md');
    expect(documented).toContain('DATABASE_URL');
    expect(documented.filter((name) => !schemaNames.includes(name))).toEqual([]);
  });
});
