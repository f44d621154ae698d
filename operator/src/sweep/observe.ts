// The cleanup sweep's view of the cluster: the worker pods the API server
// selects by ajo's labels (listed as PartialObjectMetadataList), and the
// AnsibleJobs. Secrets are not looked at: a payload Secret from `ajo submit` is
// created after its job and owned by it, so the garbage collector removes it
// and the operator needs no `list` on Secrets (which would return their data).
// Everything is parsed here, at the edge, into the plain facts orphans.ts judges.
import * as z from 'zod';

import { WORKER_POD_SELECTOR } from '../api/ansible-job.js';
import { paths, type KubeClient } from '../kube/client.js';
import type { DependentFacts, JobFacts, Observation } from './orphans.js';

/** The objects the sweep may delete, by who labels them. */
export const POD_SELECTOR = WORKER_POD_SELECTOR;

const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const PAGE_SIZE = 500;

const OwnerReference = z.object({ apiVersion: z.string(), kind: z.string(), name: z.string(), uid: z.string() }).loose();

const Metadata = z
  .object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    resourceVersion: z.string(),
    creationTimestamp: z.string().optional(),
    deletionTimestamp: z.string().nullish(),
    labels: z.record(z.string(), z.string()).nullish(),
    ownerReferences: z.array(OwnerReference).nullish(),
  })
  .loose();

const PartialObject = z.object({ metadata: Metadata }).loose();

/**
 * Only the fields the sweep reads, each optional: the controller parses jobs
 * strictly and skips what does not parse, and the safety net must still see
 * those jobs (their TTL, and that they own their pods).
 */
const LooseJob = z
  .object({
    metadata: Metadata,
    spec: z
      .object({
        ttlSecondsAfterFinished: z.number().int().min(0).optional().catch(undefined),
      })
      .loose()
      .optional()
      .catch(undefined),
    status: z
      .object({
        phase: z.string().optional().catch(undefined),
        completionTime: z.string().optional().catch(undefined),
        artifacts: z.object({ path: z.string() }).loose().optional().catch(undefined),
      })
      .loose()
      .optional()
      .catch(undefined),
  })
  .loose();

const List = z.object({ metadata: z.object({ continue: z.string().optional() }).loose().optional(), items: z.array(z.unknown()).nullish() });

export class ObservationError extends Error {
  override name = 'ObservationError';
}

function dependentFacts(item: unknown, what: string): DependentFacts {
  const parsed = PartialObject.safeParse(item);
  if (!parsed.success) throw new ObservationError(`${what}: an item does not parse as object metadata: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const m = parsed.data.metadata;
  return {
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    labels: m.labels ?? {},
    ownerReferences: (m.ownerReferences ?? []).map(({ apiVersion, kind, name, uid }) => ({ apiVersion, kind, name, uid })),
  };
}

export function jobFacts(item: unknown): JobFacts | undefined {
  const parsed = LooseJob.safeParse(item);
  if (!parsed.success) return undefined;
  const { metadata: m, spec, status } = parsed.data;
  return {
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    ...(status?.phase ? { phase: status.phase } : {}),
    ...(status?.completionTime ? { completionTime: status.completionTime } : {}),
    ...(spec?.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished } : {}),
    ...(status?.artifacts?.path ? { artifactsPath: status.artifacts.path } : {}),
  };
}

/**
 * Every item of a paginated list, each reduced by `toFacts` as its page arrives: only one page
 * of whole objects is alive at a time (10,000 kept AnsibleJobs are ~90 MB of objects at once).
 */
async function listAll<T>(
  client: KubeClient,
  path: string,
  toFacts: (item: unknown) => T,
  options: { labelSelector?: string; metadataOnly?: boolean; signal?: AbortSignal },
): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const page = List.parse(
      await client.get(path, {
        query: { limit: PAGE_SIZE, labelSelector: options.labelSelector, continue: token },
        ...(options.metadataOnly ? { accept: METADATA_ONLY } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
    for (const item of page.items ?? []) items.push(toFacts(item));
    token = page.metadata?.continue || undefined;
  } while (token);
  return items;
}

/** Namespaces to look in; `[undefined]` is all namespaces. */
const scopesOf = (namespaces: readonly string[]) => (namespaces.length > 0 ? namespaces : [undefined]);

export async function listLabelledPods(client: KubeClient, namespaces: readonly string[], signal?: AbortSignal): Promise<DependentFacts[]> {
  const lists = await Promise.all(
    scopesOf(namespaces).map((ns) => listAll(client, paths.pods(ns), (item) => dependentFacts(item, 'pods'), { labelSelector: POD_SELECTOR, metadataOnly: true, ...(signal ? { signal } : {}) })),
  );
  return lists.flat();
}

/**
 * A job that cannot be read fails the whole list: leaving it out would make its
 * pods look orphaned.
 */
export async function listJobs(client: KubeClient, namespaces: readonly string[], signal?: AbortSignal): Promise<JobFacts[]> {
  const readableFacts = (item: unknown): JobFacts => {
    const facts = jobFacts(item);
    if (!facts) throw new ObservationError('ansiblejobs: an item has no readable metadata (name, namespace, uid, resourceVersion)');
    return facts;
  };
  const lists = await Promise.all(scopesOf(namespaces).map((ns) => listAll(client, paths.ansibleJobs(ns), readableFacts, signal ? { signal } : {})));
  return lists.flat();
}

export type PartialObservation = { [K in keyof Observation]: Observation[K] | Error };

/**
 * Pods are listed before the jobs: a pod is only created for a job that
 * exists, so a job that owns a listed pod is in the later job list unless it
 * was deleted meanwhile. A failed list is returned as its error so that the
 * other kinds can still be swept.
 */
export async function observeCluster(client: KubeClient, namespaces: readonly string[], signal?: AbortSignal): Promise<PartialObservation> {
  const settle = <T>(promise: Promise<T>): Promise<T | Error> => promise.catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  const pods = await settle(listLabelledPods(client, namespaces, signal));
  const jobs = await settle(listJobs(client, namespaces, signal));
  return { pods, jobs };
}
