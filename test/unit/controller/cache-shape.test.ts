// What the controller's caches keep of an AnsibleJob and a worker pod, and the per-object budget that keeps the operator's memory flat with history.
import { serialize } from 'node:v8';
import { parseAnsibleJob, type StoredAnsibleJob } from '../../../operator/src/api/ansible-job.js';
import { leanAnsibleJob, leanPod } from '../../../operator/src/controller/cache-shape.js';
import { decide } from '../../../operator/src/controller/lifecycle/decide.js';
import { mergePatchBetween } from '../../../operator/src/kube/merge-patch.js';
import { podOptions, SHA, T0 } from './fixtures.js';

type JsonRecord = Record<string, unknown>;
const iso = (ms: number) => new Date(ms).toISOString();

/** A managedFields entry as the API server writes it: one per manager and subresource. */
function managedField(manager: string, subresource: string | undefined, fields: JsonRecord): JsonRecord {
  return { manager, operation: 'Update', apiVersion: 'ajo.dev/v1alpha1', time: iso(T0), fieldsType: 'FieldsV1', fieldsV1: fields, ...(subresource ? { subresource } : {}) };
}

const STDOUT_TAIL = 'TASK [site : configure the service] *******************************************\nchanged: [web-01]\n'.repeat(40).slice(-2048);

const SOURCE_SPEC = {
  project: {
    inline: [
      { path: 'site.yml', content: `- hosts: all\n  tasks:\n${'    - ansible.builtin.debug: { msg: "a step of the play" }\n'.repeat(20)}` },
      { path: 'roles/web/tasks/main.yml', content: '- ansible.builtin.package: { name: nginx, state: present }\n'.repeat(10) },
    ],
  },
  playbook: 'site.yml',
  inventory: { inline: 'web-01 ansible_host=10.0.0.1\nweb-02 ansible_host=10.0.0.2\n' },
  extraVars: { release: '2026.12', replicas: 3, features: ['a', 'b', 'c'] },
  env: { ANSIBLE_FORCE_COLOR: '0' },
  credentials: { sshKeySecret: 'fleet-key', vaultPassword: { name: 'vault', key: 'password' } },
};

/** A finished spec.source job exactly as a list or watch returns it, applied with kubectl. */
function finishedAsServed(spec: JsonRecord = { source: SOURCE_SPEC }): JsonRecord {
  const manifest = { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name: 'site', namespace: 'ns' }, spec };
  return {
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJob',
    metadata: {
      name: 'site',
      namespace: 'ns',
      uid: '0f3c2a4e-6d1b-4f7a-9c2e-8b5d3a1e7f60',
      resourceVersion: '48213',
      generation: 1,
      creationTimestamp: iso(T0),
      labels: { team: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(manifest)}\n` },
      managedFields: [
        managedField('kubectl-client-side-apply', undefined, {
          'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} }, 'f:labels': { '.': {}, 'f:team': {} } },
          'f:spec': { '.': {}, 'f:source': { '.': {}, 'f:project': { '.': {}, 'f:inline': {} }, 'f:playbook': {}, 'f:inventory': { '.': {}, 'f:inline': {} }, 'f:extraVars': { '.': {} }, 'f:env': { '.': {} }, 'f:credentials': { '.': {} } }, 'f:podTemplate': { '.': {} } },
        }),
        managedField('ajo-operator', 'status', {
          'f:status': Object.fromEntries(
            ['f:phase', 'f:jid', 'f:podName', 'f:podUID', 'f:attempts', 'f:startTime', 'f:completionTime', 'f:lastPollTime', 'f:runnerStatus', 'f:rc', 'f:hostCounts', 'f:eventCount', 'f:lastEvent', 'f:stdoutTail', 'f:artifacts', 'f:observedGeneration', 'f:source', 'f:conditions'].map((field) => [field, {}]),
          ),
        }),
      ],
    },
    spec: {
      ...spec,
      worker: 'ajo',
      backoffLimit: 3,
      podReplacementPolicy: 'Failed',
      pendingTimeout: 600,
      imagePullBackOffTimeout: 120,
      suspend: false,
      podTemplate: { metadata: { labels: { team: 'web' } }, spec: { nodeSelector: { pool: 'ansible' }, tolerations: [{ key: 'ansible', operator: 'Exists' }] } },
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    },
    status: {
      phase: 'Succeeded',
      jid: '0f3c2a4e-6d1b-4f7a-9c2e-8b5d3a1e7f60',
      podName: 'site-1',
      podUID: '5b0e8c1d-2f4a-4e6b-8a3c-9d7f1e2b4c60',
      attempts: 1,
      startTime: iso(T0),
      completionTime: iso(T0 + 90_000),
      lastPollTime: iso(T0 + 80_000),
      runnerStatus: 'successful',
      rc: 0,
      hostCounts: { ok: 42, changed: 6, failures: 0, unreachable: 0, skipped: 3, rescued: 0, ignored: 0 },
      eventCount: 131,
      lastEvent: '131 playbook_on_stats',
      stdoutTail: STDOUT_TAIL,
      artifacts: { volume: 'emptyDir', path: 'artifacts/site-1' },
      observedGeneration: 1,
      source: { streamSha256: SHA, bytes: 18_211 },
      conditions: [
        { type: 'Launched', status: 'True', reason: 'Launched', message: 'launch: pod site-1 (attempt 1)', lastTransitionTime: iso(T0) },
        { type: 'Running', status: 'False', reason: 'Completed', message: 'the play finished with rc 0', lastTransitionTime: iso(T0 + 90_000) },
        { type: 'Finished', status: 'True', reason: 'Completed', message: 'the play finished with rc 0', lastTransitionTime: iso(T0 + 90_000) },
      ],
    },
  };
}

function parsed(raw: JsonRecord): StoredAnsibleJob {
  const result = parseAnsibleJob(raw);
  if (!result.ok) throw new Error(result.error);
  return result.job;
}

function withAnnotations(raw: JsonRecord, annotations: Record<string, string>): JsonRecord {
  const metadata = raw.metadata as JsonRecord;
  return { ...raw, metadata: { ...metadata, annotations: { ...(metadata.annotations as Record<string, string>), ...annotations } } };
}

function running(raw: JsonRecord): JsonRecord {
  const status: JsonRecord = { ...(raw.status as JsonRecord), phase: 'Running' };
  for (const field of ['completionTime', 'runnerStatus', 'rc']) delete status[field];
  return { ...raw, status };
}

describe('leanAnsibleJob', () => {
  test('a job that has not finished is kept whole, but for managedFields and kubectl\'s last-applied copy', () => {
    const served = withAnnotations(running(finishedAsServed()), { 'ajo.dev/refresh': 'r-1' });
    const lean = leanAnsibleJob(served);
    const { managedFields: _managedFields, annotations: _annotations, ...metadata } = served.metadata as JsonRecord;
    expect(lean).toEqual({ ...served, metadata: { ...metadata, annotations: { 'ajo.dev/refresh': 'r-1' } } });
    // Every field decide() reads of a running job is there: the parsed job is the same as from the served object.
    expect(parsed(lean)).toEqual({ ...parsed(served), metadata: parsed(lean).metadata });
    expect(parsed(lean).spec).toEqual(parsed(served).spec);
    expect(parsed(lean).status).toEqual(parsed(served).status);
  });

  test('a finished job drops its stdout tail, results, pod template and source contents, and still parses', () => {
    const lean = leanAnsibleJob(finishedAsServed());
    expect(lean.metadata).not.toHaveProperty('managedFields');
    expect(lean.metadata).not.toHaveProperty('annotations');
    expect(lean.status).toEqual({
      phase: 'Succeeded',
      jid: '0f3c2a4e-6d1b-4f7a-9c2e-8b5d3a1e7f60',
      podName: 'site-1',
      podUID: '5b0e8c1d-2f4a-4e6b-8a3c-9d7f1e2b4c60',
      attempts: 1,
      startTime: iso(T0),
      completionTime: iso(T0 + 90_000),
      observedGeneration: 1,
      runnerStatus: 'successful',
      rc: 0,
    });
    const spec = lean.spec as JsonRecord;
    expect(spec).not.toHaveProperty('podTemplate');
    expect(spec).not.toHaveProperty('resources');
    expect(spec.source).toEqual({ playbook: 'site.yml', project: { inline: [{ path: 'site.yml', content: '' }, { path: 'roles/web/tasks/main.yml', content: '' }] } });
    expect(parsed(lean).spec.backoffLimit).toBe(3);
  });

  test('a finished payload job keeps its payload reference; git and module sources keep their references', () => {
    const payload = { secret: { name: 'site-payload', key: 'stream' }, sha256: SHA };
    expect((leanAnsibleJob(finishedAsServed({ payload })).spec as JsonRecord).payload).toEqual(payload);
    const git = { git: { url: 'https://git.example/site.git', revision: 'v2' } };
    expect((leanAnsibleJob(finishedAsServed({ source: { ...SOURCE_SPEC, project: git } })).spec as JsonRecord).source).toEqual({ playbook: 'site.yml', project: git });
    const adHoc = { module: { name: 'ansible.builtin.ping', args: 'data=x', hosts: 'web' }, inventory: { inline: 'web-01\n' } };
    const lean = leanAnsibleJob(finishedAsServed({ source: adHoc }));
    expect((lean.spec as JsonRecord).source).toEqual({ module: { name: 'ansible.builtin.ping', hosts: 'web' } });
    parsed(lean);
  });

  test('a finished job decides the same from its cached form: a refresh request, a TTL, and a status patch of only what changed', () => {
    const served = withAnnotations(finishedAsServed(), { 'ajo.dev/refresh': 'r-7' });
    (served.spec as JsonRecord).ttlSecondsAfterFinished = 3600;
    const now = T0 + 120_000;
    const full = parsed(served);
    const cached = parsed(leanAnsibleJob(served));
    const fromServed = decide({ job: full, pod: undefined, now, podOptions });
    const fromCache = decide({ job: cached, pod: undefined, now, podOptions });
    expect(fromCache.requeueAfterMs).toBe(fromServed.requeueAfterMs);
    expect(fromCache.deleteJob).toBe(fromServed.deleteJob);
    expect(fromCache.events).toEqual(fromServed.events);
    // The write the controller sends: nothing of the stdout tail or results, which the cache lacks.
    const patch = mergePatchBetween(cached.status ?? {}, fromCache.status ?? {});
    expect(patch).toEqual({ lastRefreshRequest: 'r-7' });
    expect(mergePatchBetween(full.status ?? {}, fromServed.status ?? {})).toEqual(patch);
  });
});

/**
 * The regression guard: what one kept finished job costs in the cache, counted in bytes of
 * the cached object, not in wall time or RSS. Measured for this job (2026-12-02): 9,817 bytes
 * of JSON and 9,321 of v8.serialize as served (a 2 KiB stdout tail, 2 KiB of inline files and
 * kubectl's copy of them, managedFields); 829 and 778 cached. The budget, 1,280 bytes, leaves
 * about 50% for longer names and a field or two more; 10,000 kept jobs then stay under 13 MB
 * of cached data. A change that keeps a text field of a finished job fails here.
 */
const FINISHED_JOB_BUDGET_BYTES = 1280;

describe('cache budget per finished AnsibleJob', () => {
  const served = finishedAsServed();
  const lean = leanAnsibleJob(served);

  test.each([
    ['JSON', (object: unknown) => Buffer.byteLength(JSON.stringify(object))],
    ['v8.serialize', (object: unknown) => serialize(object).length],
  ])('%s size of the cached form is under the budget', (_what, size) => {
    // The served form is far over: the guard measures what the transform removes.
    expect(size(served)).toBeGreaterThan(5 * FINISHED_JOB_BUDGET_BYTES);
    expect(size(lean)).toBeLessThan(FINISHED_JOB_BUDGET_BYTES);
  });

  test('a finished payload job is as small', () => {
    const payloadJob = leanAnsibleJob(finishedAsServed({ payload: { secret: { name: 'site-payload', key: 'stream' }, sha256: SHA } }));
    expect(Buffer.byteLength(JSON.stringify(payloadJob))).toBeLessThan(FINISHED_JOB_BUDGET_BYTES);
  });
});

describe('leanPod', () => {
  test('keeps identity, owner, node and the whole status; drops managedFields, annotations and the pod spec', () => {
    const status = {
      phase: 'Succeeded',
      podIP: '10.1.0.7',
      containerStatuses: [{ name: 'process', ready: false, state: { terminated: { exitCode: 0, reason: 'Completed', message: '{"rc":0}' } } }],
    };
    const ownerReferences = [{ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', name: 'site', uid: 'u', controller: true }];
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'site-1',
        namespace: 'ns',
        uid: 'p',
        resourceVersion: '9',
        labels: { 'ajo.dev/job-name': 'site' },
        annotations: { 'ajo.dev/source': JSON.stringify(SOURCE_SPEC) },
        ownerReferences,
        managedFields: [managedField('ajo-operator', undefined, { 'f:spec': {} })],
      },
      spec: { nodeName: 'node-1', containers: [{ name: 'worker', image: 'ajo-runner:0.1.0', env: [{ name: 'A', value: 'b' }] }], volumes: [{ name: 'work', emptyDir: {} }] },
      status,
    };
    expect(leanPod(pod)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'site-1', namespace: 'ns', uid: 'p', resourceVersion: '9', labels: { 'ajo.dev/job-name': 'site' }, ownerReferences },
      spec: { nodeName: 'node-1' },
      status,
    });
  });
});
