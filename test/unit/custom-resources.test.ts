import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { chartValuesSchema } from '../../src/config/chart-values-schema.js';
import { admissionPoliciesHelmTemplate, crdsHelmTemplate, crdsYaml } from '../../src/config/crds-yaml.js';
import { toStructural } from '../../src/config/structural-schema.js';

describe('the CRDs', () => {
  it('deploy/kubernetes/crds.yaml is what the zod schemas generate (run `make crds` after changing them)', () => {
    const committed = readFileSync(join(import.meta.dirname, '../../deploy/kubernetes/crds.yaml'), 'utf8');
    expect(committed).toBe(crdsYaml());
  });

  it('the Helm chart installs the same CRDs and admission policies (run `make crds` after changing either)', () => {
    const deploy = join(import.meta.dirname, '../../deploy');
    const chart = (file: string) => readFileSync(join(deploy, 'helm/elevate/templates', file), 'utf8');
    expect(chart('crds.yaml')).toBe(crdsHelmTemplate());
    const policies = readFileSync(join(deploy, 'kubernetes/admission-policies.yaml'), 'utf8');
    expect(chart('admission-policies.yaml')).toBe(admissionPoliciesHelmTemplate(policies));
    const valuesSchema = readFileSync(join(deploy, 'helm/elevate/values.schema.json'), 'utf8');
    expect(JSON.parse(valuesSchema)).toEqual(chartValuesSchema());
  });

  it('AccessPolicy carries every field of the config file’s policies but the name (metadata.name)', () => {
    const [policyCrd] = parseAllDocuments(crdsYaml()).map((d) => d.toJS());
    const spec = policyCrd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(Object.keys(spec.properties)).toEqual(
      expect.arrayContaining([
        'priority',
        'match',
        'decision',
        'approval',
        'maxDuration',
        'requireTicket',
        'cooldown',
      ]),
    );
    expect(spec.properties.name).toBeUndefined();
    expect(spec.required).toEqual(['decision']);
  });

  it('makes JSON Schema structural: no additionalProperties beside properties, unions kept unpruned, no defaults', () => {
    expect(
      toStructural({
        $schema: 'x',
        type: 'object',
        additionalProperties: false,
        properties: {
          n: { type: 'integer', default: 0, minimum: -9_007_199_254_740_991 },
          either: { anyOf: [{ type: 'boolean' }, { type: 'object' }], description: 'true or a pattern' },
          labels: {
            type: 'object',
            propertyNames: { type: 'string' },
            additionalProperties: { type: 'string' },
          },
          free: { type: 'object' },
        },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        n: { type: 'integer' },
        either: { description: 'true or a pattern', 'x-kubernetes-preserve-unknown-fields': true },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    });
  });
});
