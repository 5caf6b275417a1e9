// Writes schema/audit-line.schema.json from the TypeBox types in src/audit/line.ts (an exit line or a seal line) (built to dist/).
import { writeFileSync } from 'node:fs';
import { TrailLineSchema } from '../dist/audit/line.js';

const out = new URL('../schema/audit-line.schema.json', import.meta.url);
writeFileSync(out, JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...TrailLineSchema }, null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
