/**
 * Writes deploy/kubernetes/crds.yaml from src/config/custom-resources.ts (the policy language's zod schemas).
 * `make crds` runs it; a unit test fails when the committed file differs from what this would write.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdsYaml } from '../src/config/crds-yaml.js';

const out = join(import.meta.dirname, '..', 'deploy', 'kubernetes', 'crds.yaml');
writeFileSync(out, crdsYaml());
console.log(`wrote ${out}`);
