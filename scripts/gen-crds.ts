/**
 * Writes deploy/kubernetes/crds.yaml from src/config/custom-resources.ts (the policy language's zod schemas),
 * the Helm chart's copies of the CRDs and admission policies, and its values.schema.json (whose `config` is
 * the config file's zod schema). `make crds` runs it; a unit test fails
 * when a committed file differs from what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartValuesSchema } from '../src/config/chart-values-schema.js';
import { admissionPoliciesHelmTemplate, crdsHelmTemplate, crdsYaml } from '../src/config/crds-yaml.js';

const deploy = join(import.meta.dirname, '..', 'deploy');
const chartTemplates = join(deploy, 'helm', 'elevate', 'templates');
const write = (path: string, text: string) => {
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
};
write(join(deploy, 'kubernetes', 'crds.yaml'), crdsYaml());
write(join(chartTemplates, 'crds.yaml'), crdsHelmTemplate());
const policies = readFileSync(join(deploy, 'kubernetes', 'admission-policies.yaml'), 'utf8');
write(join(chartTemplates, 'admission-policies.yaml'), admissionPoliciesHelmTemplate(policies));
write(
  join(deploy, 'helm', 'elevate', 'values.schema.json'),
  `${JSON.stringify(chartValuesSchema(), null, 2)}\n`,
);
