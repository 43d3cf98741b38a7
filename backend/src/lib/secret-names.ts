import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './project-root';

/**
 * Which names hold secrets: one rule, kept as data beside the migrations, because the platform role's
 * column grants (a migration) must hide exactly what logs, the audit trail, exports and subject-access
 * reports leave out. Read once at start; the file ships with the migrations.
 */
const { pattern } = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'migrations', 'support', 'secret-names.json'), 'utf8')) as { pattern: string };
const SECRET_NAME = new RegExp(pattern);

/** True for a column, field or header whose value is a secret: `password_hash`, `apiKey`, `x-api-key`, `secret_encrypted`. */
export const isSecretName = (name: string): boolean => SECRET_NAME.test(name);
