/**
 * Shared pieces of the operator's integration tests: which cluster to use, a namespace per
 * test file, an in-process operator, and polling helpers.
 *
 * The cluster comes from the cluster tier (test/cluster/tier.ts: describeCluster /
 * describeWithNode), which starts a real kube-apiserver + etcd or uses $KUBECONFIG. Until
 * that module exists, $KUBECONFIG is used directly; when no API server answers, the suites
 * are skipped with the reason printed, so jest counts them.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KubeClient as KubeClientType } from '../../operator/src/kube/client.js';
import type { OperatorOptions, RunningOperator } from '../../operator/src/manager/operator.js';
import * as clientModule from '../../operator/src/kube/client.js';
import { startOperator } from '../../operator/src/manager/operator.js';
import { createLogger, silentLogger } from '../../operator/src/kube/log.js';
import { describeOrSkip } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';
export const { KubeClient, KubeApiError, loadClusterAccess, paths } = clientModule;
type KubeClient = KubeClientType;

type Describe = (name: string, fn: () => void) => void;
interface Tier {
  describeCluster?: Describe;
  describeWithNode?: Describe;
}

const tierModule = '../cluster/tier.js';
const tier = (await import(tierModule).catch(() => undefined)) as Tier | undefined;

async function apiServerReason(): Promise<string | undefined> {
  if (!process.env.KUBECONFIG) return 'no cluster tier (test/cluster/tier.ts) and $KUBECONFIG is not set';
  try {
    await new KubeClient(loadClusterAccess()).get('/version', { timeoutMs: 5000 });
    return undefined;
  } catch (error) {
    return `the API server in $KUBECONFIG does not answer: ${(error as Error).message}`;
  }
}

const fallbackReason = tier?.describeCluster ? undefined : await apiServerReason();

function skipWith(reason: string): Describe {
  return (name, fn) => describeOrSkip(name, reason, fn);
}

export const describeCluster: Describe = tier?.describeCluster ?? (fallbackReason ? skipWith(fallbackReason) : describe);
export const describeWithNode: Describe =
  tier?.describeWithNode ?? skipWith('no node runs pods here (test/cluster/tier.ts with describeWithNode is not available)');

export const SHA = 'b'.repeat(64);
export const CRD_PATH = new URL('../../crds/ajo.dev_ansiblejobs.yaml', import.meta.url);

export function client(): KubeClient {
  return new KubeClient(loadClusterAccess());
}

/** Every CRD of crds/ (AnsibleJob, AnsibleJobTemplate, AnsibleQueue, AnsibleSchedule), as generated from the zod API. */
export const CRD_PATHS = ['ansiblejobs', 'ansiblejobtemplates', 'ansiblequeues', 'ansibleschedules'].map((plural) => new URL(`../../crds/ajo.dev_${plural}.yaml`, import.meta.url));

export async function ensureCrd(kube: KubeClient): Promise<void> {
  for (const file of CRD_PATHS) await applyCrd(kube, file);
  // A replaced CRD's schema takes effect a moment after the write: until a dry-run create keeps
  // this checkout's newest fields (and passes its CEL rules), objects would be pruned or refused.
  await waitFor('the AnsibleJob schema of crds/ in effect', async () => {
    const probe = { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name: 'schema-probe' }, spec: { templateRef: { name: 'probe' }, queue: 'probe' } };
    const created = await kube.request<{ spec?: { queue?: string } }>('POST', paths.ansibleJobs('default'), { body: probe, query: { dryRun: 'All' } });
    return created.spec?.queue === 'probe' ? true : undefined;
  });
}

async function applyCrd(kube: KubeClient, file: URL): Promise<void> {
  const { parse } = await import('yaml');
  const crd = parse(readFileSync(file, 'utf8')) as { metadata: { name: string }; spec: { names: { plural: string } } };
  const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions`;
  // Suites run in parallel and each puts the CRD: a 409 (another one wrote it between our read
  // and our write, or created it first) means read again and put again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      const existing = await kube.getOrUndefined<{ metadata: { resourceVersion: string } }>(`${path}/${crd.metadata.name}`);
      if (existing) await kube.replace(`${path}/${crd.metadata.name}`, { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion } });
      else await kube.create(path, crd);
      break;
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 409) || attempt === 5) throw error;
    }
  }
  await waitFor(`CRD ${crd.metadata.name} established`, async () => {
    const got = await kube.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`${path}/${crd.metadata.name}`);
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') || undefined;
  });
  // Discovery lags establishment by a moment; a list proves the endpoint serves.
  await waitFor(`${crd.spec.names.plural} served`, async () => (await kube.get(paths.ajoResources(crd.spec.names.plural, 'default')).then(() => true, () => undefined)));
}

/** A fresh namespace with a default service account (no controller-manager may run to make one). */
export async function createNamespace(kube: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  await kube.create(`/api/v1/namespaces/${name}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }).catch(() => undefined);
  return name;
}

export async function deleteNamespace(kube: KubeClient, name: string): Promise<void> {
  await kube.delete(`/api/v1/namespaces/${name}`);
}

export { waitFor };

export async function runOperator(kube: KubeClient, namespaces: string[], extra: Partial<OperatorOptions> = {}): Promise<RunningOperator> {
  const logger = process.env.AJO_TEST_LOGS ? createLogger({ level: 'debug' }) : silentLogger;
  return startOperator({
    client: kube,
    namespaces,
    concurrency: 8,
    podOptions: { defaultImage: 'ajo-runner:test', processImage: 'ajo-runner:test', composeImage: 'ajo-runner:test', statusPort: 8765 },
    logger,
    ...extra,
  });
}

export interface JobObject {
  metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    attempts?: number;
    podName?: string;
    podUID?: string;
    jid?: string;
    rc?: number;
    lastRefreshRequest?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    hostCounts?: Record<string, number>;
    stdoutTail?: string;
    eventCount?: number;
  };
}

export function ansibleJob(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJob',
    metadata: { name },
    spec: { payload: { secret: { name: `${name}-payload` }, sha256: SHA }, ...spec },
  };
}

export async function getJob(kube: KubeClient, namespace: string, name: string): Promise<JobObject> {
  return kube.get<JobObject>(paths.ansibleJob(namespace, name));
}

export async function podsOf(kube: KubeClient, namespace: string, job: string) {
  const list = await kube.get<{ items: { metadata: { name: string; uid: string; deletionTimestamp?: string } }[] }>(paths.pods(namespace), {
    query: { labelSelector: `ajo.dev/job-name=${job}` },
  });
  return list.items;
}

export async function eventReasons(kube: KubeClient, namespace: string, job: string): Promise<string[]> {
  const list = await kube.get<{ items: { reason: string; involvedObject: { name: string } }[] }>(paths.events(namespace));
  return list.items.filter((event) => event.involvedObject.name === job).map((event) => event.reason);
}

export const condition = (job: JobObject, type: string) => job.status?.conditions?.find((c) => c.type === type);
