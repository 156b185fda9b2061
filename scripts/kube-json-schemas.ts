/**
 * JSON schemas for kubeconform, in the layout its default schema-location template expects:
 * `{kind}-{group}-{version}.json` all lowercase, with only the group's first DNS label (`deployment-apps-v1.json`,
 * `clusterrole-rbac-v1.json`), and `{kind}-{version}.json` for the core group (`pod-v1.json`). Like the
 * `-standalone-strict` schemas of yannh/kubernetes-json-schema, every $ref is inlined and an object that lists its
 * properties allows no others, so a misspelled field fails validation instead of being dropped by the API server.
 *
 *   npx tsx scripts/kube-json-schemas.ts kube               prints the directory of the pinned Kubernetes' kinds
 *   npx tsx scripts/kube-json-schemas.ts crds FILE OUTDIR   writes the schemas of the CRDs in FILE into OUTDIR
 *
 * The Kubernetes schemas come from api/openapi-spec/swagger.json of the k8s.io/kubernetes module pinned in
 * tools/kube/go.mod and are written once into a cache outside the repository, keyed by that version and this
 * file. CRD schemas are cheap, so they go wherever the caller says, and tests convert the working tree's CRDs.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

type Schema = { [keyword: string]: unknown };

const repo = join(import.meta.dirname, '..');
const kubeModule = join(repo, 'tools', 'kube');
/** Not a kind, so kubeconform never looks it up; CRD conversion takes the metadata schema from it. */
const objectMetaFile = 'objectmeta-meta-v1.json';
const definitionRef = '#/definitions/';
const quantity = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const objectMeta = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

export function toolsCacheDir(): string {
  return (
    process.env.ELEVATE_TOOLS_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'elevate')
  );
}

/** kubeconform's default file name for a kind. */
export function schemaFileName(kind: string, group: string, version: string): string {
  const label = group.split('.')[0];
  return `${[kind, ...(label ? [label] : []), version].join('-').toLowerCase()}.json`;
}

/** `s` with `f` applied to each of its direct subschemas; every other keyword's value is data and kept as is. */
function mapSubschemas(s: Schema, f: (sub: Schema) => Schema): Schema {
  const out: Schema = {};
  for (const [keyword, value] of Object.entries(s)) {
    if ((keyword === 'properties' || keyword === 'patternProperties') && isSchema(value)) {
      out[keyword] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, isSchema(sub) ? f(sub) : sub]),
      );
    } else if (
      ['items', 'additionalProperties', 'additionalItems', 'not'].includes(keyword) &&
      isSchema(value)
    ) {
      out[keyword] = f(value);
    } else if (['items', 'allOf', 'anyOf', 'oneOf'].includes(keyword) && Array.isArray(value)) {
      out[keyword] = value.map((sub) => (isSchema(sub) ? f(sub) : sub));
    } else {
      out[keyword] = value;
    }
  }
  return out;
}

/**
 * Lets `s` also be null. The API server treats an explicit null in an optional field as unset (and prunes it from
 * custom resources), and templates often render one (`annotations:` with nothing after it).
 */
function allowNull(s: Schema): Schema {
  const type = s.type;
  if (
    type === undefined &&
    !('enum' in s) &&
    !['allOf', 'anyOf', 'oneOf', 'not', '$ref'].some((k) => k in s)
  ) {
    return s;
  }
  if (type !== undefined && !['allOf', 'anyOf', 'oneOf', 'not'].some((k) => k in s)) {
    const types = Array.isArray(type) ? type : [type];
    const enumValues = Array.isArray(s.enum) && !s.enum.includes(null) ? { enum: [...s.enum, null] } : {};
    return { ...s, type: types.includes('null') ? types : [...types, 'null'], ...enumValues };
  }
  return { anyOf: [{ type: 'null' }, s] };
}

/**
 * What every node gets in both conversions: documentation and Kubernetes' own extensions dropped (no validator
 * reads them, and the descriptions alone would make the cache several times larger), objects with properties
 * closed unless `openEnded`, and optional properties nullable.
 */
function tighten(s: Schema, openEnded: boolean): Schema {
  const out = Object.fromEntries(
    Object.entries(s).filter(([k]) => k !== 'description' && !k.startsWith('x-kubernetes-')),
  );
  const properties = out.properties;
  if (!isSchema(properties)) return out;
  if (!openEnded && !('additionalProperties' in out)) out.additionalProperties = false;
  const required = new Set(Array.isArray(out.required) ? out.required : []);
  out.properties = Object.fromEntries(
    Object.entries(properties).map(([name, sub]) => [
      name,
      isSchema(sub) && !required.has(name) ? allowNull(sub) : sub,
    ]),
  );
  return out;
}

/** A swagger definition with its references inlined; a reference back into itself (JSONSchemaProps) allows anything. */
function inlineDefinition(s: Schema, definitions: Record<string, Schema>, enclosing: string[]): Schema {
  const ref = s.$ref;
  if (typeof ref === 'string') {
    const name = ref.slice(definitionRef.length);
    // Declared as a string, but the API server takes numbers too (`cpu: 1`).
    if (name === quantity) return { type: ['string', 'number'] };
    if (enclosing.includes(name)) return {};
    const definition = definitions[name];
    if (!definition) throw new Error(`swagger.json: no definition ${name}`);
    return inlineDefinition(definition, definitions, [...enclosing, name]);
  }
  const out = mapSubschemas(s, (sub) => inlineDefinition(sub, definitions, enclosing));
  // IntOrString, as openapi2jsonschema rewrites it: declared a string, but either is accepted.
  if (out.format === 'int-or-string') {
    delete out.format;
    out.type = ['integer', 'string'];
  }
  return tighten(out, false);
}

/** Kind schemas by file name from a Kubernetes swagger.json, plus ObjectMeta's for CRD conversion. */
export function kubeSchemas(swagger: { definitions: Record<string, Schema> }): Map<string, Schema> {
  const files = new Map<string, Schema>();
  const add = (file: string, schema: Schema) => {
    if (files.has(file)) throw new Error(`two definitions would be written to ${file}`);
    files.set(file, schema);
  };
  for (const [name, definition] of Object.entries(swagger.definitions)) {
    const gvks = definition['x-kubernetes-group-version-kind'];
    if (name === objectMeta) add(objectMetaFile, inlineDefinition(definition, swagger.definitions, [name]));
    if (!Array.isArray(gvks)) continue;
    const schema = inlineDefinition(definition, swagger.definitions, [name]);
    for (const { group, version, kind } of gvks as { group: string; version: string; kind: string }[]) {
      add(schemaFileName(kind, group, version), schema);
    }
  }
  return files;
}

/** One node of a CRD's structural schema, with the meaning of its Kubernetes extensions spelled out. */
function crdNode(s: Schema): Schema {
  const out = mapSubschemas(s, crdNode);
  if (out['x-kubernetes-int-or-string'] === true && out.type === undefined) out.type = ['integer', 'string'];
  if (out['x-kubernetes-embedded-resource'] === true) {
    out.properties = {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      ...(isSchema(out.properties) ? out.properties : {}),
    };
  }
  const nullable = out.nullable === true;
  delete out.nullable;
  const tightened = tighten(out, out['x-kubernetes-preserve-unknown-fields'] === true);
  return nullable ? allowNull(tightened) : tightened;
}

/**
 * Schema of one version of a CRD. Unlike kubeconform's openapi2jsonschema.py the root is closed too, so an object's
 * apiVersion, kind and metadata are always allowed, and metadata is checked as the API server does, as ObjectMeta.
 */
export function crdVersionSchema(openAPIV3Schema: Schema, objectMetaSchema: Schema): Schema {
  const given = isSchema(openAPIV3Schema.properties) ? openAPIV3Schema.properties : {};
  const root = crdNode({
    ...openAPIV3Schema,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      ...given,
    },
  });
  const properties = root.properties as Schema;
  const metadata = crdNode(isSchema(given.metadata) ? given.metadata : { type: 'object' });
  const { additionalProperties: _, ...restrictions } = metadata;
  // A CRD may only narrow metadata (name's length, say), never describe all of it.
  const metadataSchema = isSchema(metadata.properties)
    ? { allOf: [objectMetaSchema, restrictions] }
    : objectMetaSchema;
  const required = Array.isArray(root.required) ? root.required : [];
  properties.metadata = required.includes('metadata') ? metadataSchema : allowNull(metadataSchema);
  return root;
}

/** Schemas by file name of every version of every CustomResourceDefinition in a YAML stream. */
export function crdSchemas(yamlText: string, objectMetaSchema: Schema): Map<string, Schema> {
  const files = new Map<string, Schema>();
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length > 0) throw doc.errors[0];
    const object = doc.toJS() as Schema | null;
    const items =
      object?.kind === 'List' && Array.isArray(object.items) ? (object.items as Schema[]) : [object];
    for (const crd of items) {
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      const spec = crd.spec as {
        group: string;
        names: { kind: string };
        versions: { name: string; schema?: { openAPIV3Schema?: Schema } }[];
      };
      for (const version of spec.versions) {
        const schema = version.schema?.openAPIV3Schema;
        if (!schema) continue;
        files.set(
          schemaFileName(spec.names.kind, spec.group, version.name),
          crdVersionSchema(schema, objectMetaSchema),
        );
      }
    }
  }
  return files;
}

function writeSchemas(dir: string, files: Map<string, Schema>): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, schema] of files) writeFileSync(join(dir, file), JSON.stringify(schema));
}

function pinnedKubernetesVersion(): string {
  const goMod = readFileSync(join(kubeModule, 'go.mod'), 'utf8');
  const version = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1];
  if (!version) throw new Error('tools/kube/go.mod pins no k8s.io/kubernetes');
  return version;
}

/**
 * The directory of the pinned Kubernetes' kind schemas, generated the first time. Written under a temporary name
 * and renamed, so an interrupted run never leaves a directory that looks complete.
 */
export function kubeSchemaDir(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): string {
  const version = pinnedKubernetesVersion();
  const self = createHash('sha256')
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .digest('hex');
  const dest = join(toolsCacheDir(), 'kube-schemas', `${version}-${self.slice(0, 12)}`);
  if (existsSync(dest)) return dest;
  log(`kube-json-schemas: writing Kubernetes ${version} schemas into ${dest} (first time only)`);
  const downloaded = execFileSync('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], {
    cwd: kubeModule,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const moduleDir = (JSON.parse(downloaded) as { Dir: string }).Dir;
  const swagger = JSON.parse(readFileSync(join(moduleDir, 'api', 'openapi-spec', 'swagger.json'), 'utf8'));
  const tmp = `${dest}.tmp.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  writeSchemas(tmp, kubeSchemas(swagger));
  try {
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // Another run got there first with the same content.
    if (!existsSync(dest)) throw e;
  }
  return dest;
}

/** Writes the schemas of the CRDs in `crdFile` into `outDir` (ObjectMeta from the Kubernetes schemas). */
export function writeCrdSchemas(crdFile: string, outDir: string, kubeDir = kubeSchemaDir()): string[] {
  const objectMetaSchema = JSON.parse(readFileSync(join(kubeDir, objectMetaFile), 'utf8')) as Schema;
  const files = crdSchemas(readFileSync(crdFile, 'utf8'), objectMetaSchema);
  writeSchemas(outDir, files);
  return [...files.keys()];
}

if (import.meta.main) {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'kube' && args.length === 0) {
    console.log(kubeSchemaDir());
  } else if (command === 'crds' && args.length === 2) {
    const [crdFile, outDir] = args as [string, string];
    const written = writeCrdSchemas(crdFile, outDir);
    if (written.length === 0) throw new Error(`${crdFile}: no CustomResourceDefinition with a schema`);
    console.log(outDir);
  } else {
    console.error('usage: kube-json-schemas.ts kube | kube-json-schemas.ts crds CRD_FILE OUTDIR');
    process.exit(2);
  }
}
