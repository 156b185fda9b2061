import { stringify } from 'yaml';
import { customResourceDefinitions } from './custom-resources.js';

/** The CRDs as one YAML stream, the way deploy/kubernetes/crds.yaml and the Helm chart hold them. */
export function crdsYaml(): string {
  const header =
    '# Generated from src/config/custom-resources.ts by `make crds`: edit the schemas there, not here.\n';
  return (
    header +
    customResourceDefinitions()
      .map((crd) => `---\n${stringify(crd, { lineWidth: 0 })}`)
      .join('')
  );
}
