import { stringify } from 'yaml';
import { customResourceDefinitions } from './custom-resources.js';

const generated = (source: string, by: string) =>
  `# Generated from ${source} by \`${by}\`: edit it there, not here.\n`;

/** The CRDs as one YAML stream, the way deploy/kubernetes/crds.yaml holds them. */
export function crdsYaml(): string {
  return (
    generated('src/config/custom-resources.ts', 'make crds') +
    customResourceDefinitions()
      .map((crd) => `---\n${stringify(crd, { lineWidth: 0 })}`)
      .join('')
  );
}

/**
 * The Helm chart's templates/crds.yaml: the same CRDs, installed and upgraded with the chart (Helm's crds/
 * folder is never upgraded), and kept on uninstall unless crds.keep is off — deleting a CRD deletes every
 * AccessPolicy and AccessRequest with it.
 */
export function crdsHelmTemplate(): string {
  const keep =
    '  {{- if .Values.crds.keep }}\n  annotations:\n    helm.sh/resource-policy: keep\n  {{- end }}\n';
  const objects = customResourceDefinitions().map((crd) =>
    // The annotation goes right after metadata's labels: the only templated part of the object.
    stringify(crd, { lineWidth: 0 }).replace(/^(metadata:\n(?: {2}.*\n| {4}.*\n)*)/m, `$1${keep}`),
  );
  return (
    generated('src/config/custom-resources.ts', 'make crds') +
    `{{- if .Values.crds.install }}\n${objects.map((o) => `---\n${o}`).join('')}{{- end }}\n`
  );
}

/** The chart's templates/admission-policies.yaml: deploy/kubernetes/admission-policies.yaml, switchable. */
export function admissionPoliciesHelmTemplate(plainYaml: string): string {
  return (
    generated('deploy/kubernetes/admission-policies.yaml', 'make crds') +
    `{{- if .Values.admissionPolicies.install }}\n${plainYaml.trimEnd()}\n{{- end }}\n`
  );
}
