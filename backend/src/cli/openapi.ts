import { writeFileSync } from 'node:fs';
import { offlineOpenApiDocument } from '../modules/docs/offline-document';

/** Writes the generated OpenAPI document to the file named by the first argument (for the spec lint). */
const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: tsx backend/src/cli/openapi.ts <output.json>\n');
  process.exit(2);
}
writeFileSync(target, `${JSON.stringify(offlineOpenApiDocument(), null, 2)}\n`);
process.exit(0);
