/**
 * Builds the AnsibleJob CustomResourceDefinition from the zod source in ansible-job.ts.
 *
 * `z.toJSONSchema` emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3
 * subset. `toStructuralSchema` walks the output and rewrites the few constructs that differ
 * (nullable unions, int-or-string unions, open maps, zod's safe-integer bounds) and throws on
 * anything else it does not know, so a new zod construct can never slip into the CRD in a
 * form the API server would reject or read differently.
 */
import * as z from 'zod';
import {
  AnsibleJobSpec,
  AnsibleJobStatus,
  CATEGORIES,
  GROUP,
  KIND,
  MAX_JOB_NAME_LENGTH,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from './ansible-job.js';

export type JsonSchema = { [key: string]: unknown };

const KEYWORDS_KEPT = new Set([
  'type',
  'description',
  'default',
  'enum',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'required',
  'properties',
  'items',
  'additionalProperties',
  'nullable',
  'x-kubernetes-validations',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
]);

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIntegerSchema(schema: unknown): boolean {
  return isObject(schema) && schema.type === 'integer';
}

function isStringSchema(schema: unknown): boolean {
  return isObject(schema) && schema.type === 'string';
}

/** Converts one node of zod's JSON schema into the structural form; `at` names it in errors. */
export function toStructuralSchema(node: JsonSchema, at = '$'): JsonSchema {
  const { anyOf, ...rest } = node;
  if (anyOf !== undefined) {
    if (!Array.isArray(anyOf) || anyOf.length !== 2) throw new Error(`${at}: only two-way anyOf is supported`);
    const [first, second] = anyOf as unknown[];
    if ((isIntegerSchema(first) && isStringSchema(second)) || (isStringSchema(first) && isIntegerSchema(second))) {
      return toStructuralSchema({ ...rest, 'x-kubernetes-int-or-string': true }, at);
    }
    const nullIndex = anyOf.findIndex((branch) => isObject(branch) && branch.type === 'null');
    const other = anyOf[1 - nullIndex];
    if (nullIndex >= 0 && isObject(other)) {
      return toStructuralSchema({ ...other, ...rest, nullable: true }, at);
    }
    throw new Error(`${at}: unsupported anyOf ${JSON.stringify(anyOf)}`);
  }

  if (Array.isArray(node.type)) {
    // zod 4.6 writes a union of bare types as `type: [...]`: the same two shapes as anyOf above.
    const types = node.type as unknown[];
    const others = types.filter((type) => type !== 'null');
    if (types.length === 2 && others.length === 1) return toStructuralSchema({ ...rest, type: others[0], nullable: true }, at);
    if (types.length === 2 && types.includes('integer') && types.includes('string')) {
      const { type: _type, ...untyped } = rest;
      return toStructuralSchema({ ...untyped, 'x-kubernetes-int-or-string': true }, at);
    }
    throw new Error(`${at}: only two-way anyOf is supported (a union of ${types.join(', ')})`);
  }

  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'propertyNames') continue;
    if (!KEYWORDS_KEPT.has(key)) throw new Error(`${at}: JSON schema keyword '${key}' has no structural equivalent`);
    out[key] = value;
  }

  if (out.type === 'integer') {
    // zod bounds every z.int() by Number.MAX_SAFE_INTEGER; it only adds noise to the CRD.
    if (out.minimum === -Number.MAX_SAFE_INTEGER) delete out.minimum;
    if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  }
  if (out['x-kubernetes-int-or-string'] === true) delete out.type;

  if (out['x-kubernetes-preserve-unknown-fields'] === true) {
    // An open map: properties are unknown, so neither the value schema nor additionalProperties apply.
    delete out.additionalProperties;
    return out;
  }
  if (isObject(out.properties)) {
    // Structural schemas forbid additionalProperties next to properties; pruning does its job.
    delete out.additionalProperties;
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([name, child]) => {
        if (!isObject(child)) throw new Error(`${at}.${name}: not a schema`);
        return [name, toStructuralSchema(child, `${at}.${name}`)];
      }),
    );
  } else if (isObject(out.additionalProperties)) {
    out.additionalProperties = toStructuralSchema(out.additionalProperties, `${at}.*`);
  } else if (out.additionalProperties !== undefined) {
    throw new Error(`${at}: additionalProperties must be a schema`);
  }
  if (isObject(out.items)) out.items = toStructuralSchema(out.items, `${at}[]`);
  else if (out.items !== undefined) throw new Error(`${at}: tuple items are not structural`);
  return out;
}

export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return toStructuralSchema(z.toJSONSchema(schema, { io, unrepresentable: 'throw' }) as JsonSchema);
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: JsonSchema;
}

/** The only spec field a user may change once the job has launched (to cancel it). */
export const MUTABLE_AFTER_LAUNCH: readonly string[] = ['suspend'];

/**
 * The CEL rule that freezes the spec once status records an attempt: a re-applied or edited
 * manifest (kubectl, Argo CD) can never change what a running or finished job is, nor relaunch
 * it. CEL has no "map without a key", so the rule compares every other spec field, listed from
 * the zod source so that a new field is covered the day it is added.
 */
export function immutableAfterLaunchRule(specFields: readonly string[]): { rule: string; message: string } {
  const same = specFields
    .filter((field) => !MUTABLE_AFTER_LAUNCH.includes(field))
    .map((field) => `(has(self.spec.${field}) ? has(oldSelf.spec.${field}) && self.spec.${field} == oldSelf.spec.${field} : !has(oldSelf.spec.${field}))`);
  return {
    rule: `!has(oldSelf.status) || !has(oldSelf.status.attempts) || oldSelf.status.attempts == 0 || (${same.join(' && ')})`,
    message:
      'spec is immutable once the job has launched (status.attempts > 0); only spec.suspend may change. Create a new AnsibleJob to run it again.',
  };
}

const printerColumns = [
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
  { name: 'RC', type: 'integer', jsonPath: '.status.rc' },
  { name: 'OK', type: 'integer', jsonPath: '.status.hostCounts.ok' },
  { name: 'Changed', type: 'integer', jsonPath: '.status.hostCounts.changed' },
  { name: 'Failed', type: 'integer', jsonPath: '.status.hostCounts.failures' },
  { name: 'Attempts', type: 'integer', jsonPath: '.status.attempts', priority: 1 },
  { name: 'Pod', type: 'string', jsonPath: '.status.podName', priority: 1 },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

/** What differs between ajo's CRDs; everything else (group, version, status subresource, structural schema) is shared. */
export interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: { name: string; type: string; jsonPath: string; priority?: number; description?: string }[];
  rules?: { rule: string; message: string }[];
}

export function buildCustomResourceDefinition(definition: CrdDefinition): CustomResourceDefinition {
  const { kind, plural, singular, shortNames } = definition;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'ajo' } },
    spec: {
      group: GROUP,
      names: { kind, listKind: `${kind}List`, plural, singular, shortNames, categories: CATEGORIES },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: definition.description,
              required: ['spec'],
              ...(definition.rules ? { 'x-kubernetes-validations': definition.rules } : {}),
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                // Input form: what users write (defaults are applied by the API server).
                spec: jsonSchemaOf(definition.spec, 'input'),
                status: jsonSchemaOf(definition.status, 'output'),
              },
            },
          },
        },
      ],
    },
  };
}

export function buildCrd(): CustomResourceDefinition {
  return buildCustomResourceDefinition({
    kind: KIND,
    plural: PLURAL,
    singular: SINGULAR,
    shortNames: SHORT_NAMES,
    description: 'AnsibleJob runs one ansible-runner job (a transmit stream) in a worker pod.',
    spec: AnsibleJobSpec,
    status: AnsibleJobStatus,
    printerColumns,
    rules: [
      {
        rule: `self.metadata.name.size() <= ${MAX_JOB_NAME_LENGTH}`,
        message: `metadata.name must be at most ${MAX_JOB_NAME_LENGTH} characters (pod names append -<attempt>)`,
      },
      immutableAfterLaunchRule(Object.keys(AnsibleJobSpec.shape)),
    ],
  });
}
