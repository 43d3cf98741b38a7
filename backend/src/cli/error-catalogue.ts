import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorCatalogueMarkdown } from '../lib/error-catalogue';
import { PROJECT_ROOT } from '../lib/project-root';

/** `npm run docs:errors`: writes docs/ERRORS.md from the error codes (backend/test/error-catalogue.test.ts checks it is current). */
writeFileSync(path.join(PROJECT_ROOT, 'docs', 'ERRORS.md'), errorCatalogueMarkdown());
