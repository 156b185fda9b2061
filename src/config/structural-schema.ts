/**
 * JSON Schema (as zod's toJSONSchema writes it) to a Kubernetes structural schema, the dialect a
 * CustomResourceDefinition's openAPIV3Schema must be written in: every node typed, no
 * additionalProperties beside properties, no $schema, no unions. What a structural schema cannot say is
 * left to Elevate's own validation (the same zod schema), which reports it in the object's status.
 */
export type JsonSchema = { [key: string]: unknown };

const dropped = new Set(['$schema', 'default', 'propertyNames', 'id']);
const unsafeBound = 9_007_199_254_740_991;

export function toStructural(schema: JsonSchema): JsonSchema {
  // A union (a boolean or an object, one of several shapes) has no structural form: kept as it is written.
  if (schema.anyOf || schema.oneOf) {
    return {
      ...(schema.description ? { description: schema.description } : {}),
      'x-kubernetes-preserve-unknown-fields': true,
    };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (dropped.has(key)) continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === unsafeBound) continue;
    if (key === 'additionalProperties') {
      if (value === false || schema.properties) continue;
      out[key] = typeof value === 'object' ? toStructural(value as JsonSchema) : value;
    } else if (key === 'properties') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, toStructural(v)]),
      );
    } else if (key === 'items') {
      out[key] = toStructural(value as JsonSchema);
    } else out[key] = value;
  }
  // An object schema with neither properties nor additionalProperties would prune everything in it.
  if (out.type === 'object' && !out.properties && !out.additionalProperties)
    out['x-kubernetes-preserve-unknown-fields'] = true;
  return out;
}
