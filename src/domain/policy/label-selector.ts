/**
 * Label selectors with Kubernetes' own semantics (apimachinery pkg/labels/selector.go, Requirement.Matches),
 * so a selector in Elevate's config selects exactly the namespaces `kubectl get ns -l …` would:
 * matchLabels and every matchExpression must all hold; an empty selector selects everything;
 * NotIn and DoesNotExist hold when the key is absent, In and Exists do not.
 */
import type { LabelSelector } from './types.js';

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  if (selector.matchLabels) {
    for (const key in selector.matchLabels) {
      if (!Object.hasOwn(labels, key) || labels[key] !== selector.matchLabels[key]) return false;
    }
  }
  if (selector.matchExpressions) {
    for (const e of selector.matchExpressions) {
      const has = Object.hasOwn(labels, e.key);
      const values = e.values ?? [];
      switch (e.operator) {
        case 'In':
          if (!has || !values.includes(labels[e.key] as string)) return false;
          break;
        case 'NotIn':
          if (has && values.includes(labels[e.key] as string)) return false;
          break;
        case 'Exists':
          if (!has) return false;
          break;
        case 'DoesNotExist':
          if (has) return false;
          break;
        default:
          // An operator the loader should have refused: select nothing rather than everything.
          return false;
      }
    }
  }
  return true;
}

/** The selector the way kubectl's `-l` writes it, for explanations: `team=payments,tier in (a,b),!legacy`. */
export function describeSelector(selector: LabelSelector): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.length === 0 ? '(everything)' : parts.join(',');
}
