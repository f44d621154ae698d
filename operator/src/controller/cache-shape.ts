/**
 * What the AnsibleJob controller keeps of each object in its informer caches: only what a
 * reconcile reads, so that the operator's memory does not grow with the finished jobs users
 * keep (no ttlSecondsAfterFinished). Pure functions; the informer applies them to every
 * object before it is cached (kube/informer.ts, `transform`).
 *
 * A cached object is never written back whole: status writes are merge patches of the fields
 * a reconcile changed (controller.ts, `apply`), so a field left out here is left alone on the
 * server, never erased.
 */
import { isTerminal, type Phase } from '../api/ansible-job.js';

type JsonRecord = Record<string, unknown>;

const isRecord = (value: unknown): value is JsonRecord => typeof value === 'object' && value !== null && !Array.isArray(value);

/** kubectl's copy of the whole manifest as last applied: large (inline files) and never read. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Metadata without managedFields (often the largest part of an object) and kubectl's copy. */
function leanMetadata(metadata: unknown, keepAnnotations: boolean): unknown {
  if (!isRecord(metadata)) return metadata;
  const { managedFields: _managedFields, annotations, ...rest } = metadata;
  if (!keepAnnotations || !isRecord(annotations)) return rest;
  const { [LAST_APPLIED]: _lastApplied, ...kept } = annotations;
  return Object.keys(kept).length > 0 ? { ...rest, annotations: kept } : rest;
}

/**
 * The status fields a reconcile of a finished job reads (lifecycle/decide.ts: the terminal
 * branch looks at the phase, the current pod for leftovers of a cancel or timeout, a refresh
 * request and the TTL) and a few small ones that say how it ended. Progress and results
 * (stdoutTail, hostCounts, lastEvent, artifacts, source, conditions) stay on the server only.
 */
const FINISHED_STATUS_FIELDS = [
  'phase',
  'jid',
  'podName',
  'podUID',
  'attempts',
  'startTime',
  'completionTime',
  'lastRefreshRequest',
  'observedGeneration',
  'runnerStatus',
  'rc',
  // Queue admission counts a finished job whose pod is still live against its queue.
  'queue',
] as const;

/** spec fields of a finished job that are scalars (small) or references to other objects. */
const FINISHED_SPEC_FIELDS = [
  'payload',
  'image',
  'imagePullPolicy',
  'worker',
  'async',
  'poll',
  'backoffLimit',
  'podReplacementPolicy',
  'pendingTimeout',
  'imagePullBackOffTimeout',
  'suspend',
  'ttlSecondsAfterFinished',
  'serviceAccountName',
  // Which queue and template the job belongs to: queue admission and template status read them.
  'queue',
  'priority',
  'templateRef',
] as const;

function pick(object: JsonRecord, fields: readonly string[]): JsonRecord {
  const kept: JsonRecord = {};
  for (const field of fields) if (object[field] !== undefined) kept[field] = object[field];
  return kept;
}

/**
 * A finished spec.source job's source as a skeleton that still parses: which project (a git
 * or ConfigMap reference as is; inline files by path, without their content) and which
 * playbook or module. Inventories, variables, environment and credentials are dropped.
 */
function sourceSkeleton(source: unknown): unknown {
  if (!isRecord(source)) return source;
  const skeleton: JsonRecord = {};
  if (source.playbook !== undefined) skeleton.playbook = source.playbook;
  if (isRecord(source.module)) skeleton.module = pick(source.module, ['name', 'hosts']);
  const project = source.project;
  if (isRecord(project)) {
    if (project.git !== undefined) skeleton.project = { git: project.git };
    else if (project.configMap !== undefined) skeleton.project = { configMap: project.configMap };
    else if (Array.isArray(project.inline)) {
      skeleton.project = { inline: project.inline.map((file: unknown) => (isRecord(file) ? { path: file.path, content: '' } : file)) };
    }
  }
  return skeleton;
}

/** A template job's resolution without the resolved spec, which a finished job never reads again. */
function templateSkeleton(template: unknown): JsonRecord {
  return isRecord(template) ? { template: { ...pick(template, ['name', 'uid', 'generation']), spec: {} } } : {};
}

/** Whether a cached AnsibleJob has reached a phase it never leaves. */
function finished(object: JsonRecord): boolean {
  const status = object.status;
  return isRecord(status) && typeof status.phase === 'string' && isTerminal(status.phase as Phase);
}

/**
 * The cached form of an AnsibleJob. A job that has not finished is kept whole (minus
 * managedFields and kubectl's last-applied copy): every field of it may be read to launch,
 * watch or retry a pod. A finished job keeps its identity, the annotations (a refresh
 * request), a spec that still parses without pod template, resources or source contents,
 * and the status fields in FINISHED_STATUS_FIELDS.
 */
export function leanAnsibleJob(object: JsonRecord): JsonRecord {
  const metadata = leanMetadata(object.metadata, true);
  if (!finished(object)) return { ...object, metadata };
  const spec = isRecord(object.spec) ? object.spec : {};
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata,
    spec: { ...pick(spec, FINISHED_SPEC_FIELDS), ...(spec.source !== undefined ? { source: sourceSkeleton(spec.source) } : {}) },
    status: { ...pick(object.status as JsonRecord, FINISHED_STATUS_FIELDS), ...templateSkeleton((object.status as JsonRecord).template) },
  };
}

/**
 * The cached form of a worker pod: what controller/pod/pod-types.ts parses (identity, owner,
 * node and the whole status, whose termination messages carry the run's summary). The spec's
 * containers, volumes and the source annotation are the operator's own output and never read.
 */
export function leanPod(object: JsonRecord): JsonRecord {
  const spec = isRecord(object.spec) && object.spec.nodeName !== undefined ? { spec: { nodeName: object.spec.nodeName } } : {};
  return {
    ...(object.apiVersion !== undefined ? { apiVersion: object.apiVersion } : {}),
    ...(object.kind !== undefined ? { kind: object.kind } : {}),
    metadata: leanMetadata(object.metadata, false),
    ...spec,
    ...(object.status !== undefined ? { status: object.status } : {}),
  };
}
