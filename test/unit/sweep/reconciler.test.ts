/**
 * The cleanup reconciler's decisions and reporting, without a cluster: which labelled
 * worker pods are orphans, which finished jobs the TTL safety net deletes, which
 * artifacts dirs stay, the Event and metrics of a sweep, and the flag/config checks.
 */
import {
  expiredJobs,
  findOrphans,
  judgePod,
  JobIndex,
  liveArtifactStrings,
  ttlDeadline,
  type DependentFacts,
  type JobFacts,
  type SweepPolicy,
} from '../../../operator/src/sweep/orphans.js';
import { jobFacts, POD_SELECTOR } from '../../../operator/src/sweep/observe.js';
import {
  cleanupMetrics,
  emptyOutcome,
  recordSweepMetrics,
  sweepEventOf,
  EVENT_MESSAGE_LIMIT,
} from '../../../operator/src/sweep/outcome.js';
import { cleanupConfigProblems, eventTargetFor, type CleanupConfig } from '../../../operator/src/sweep/reconciler.js';
import { cleanupConfigFromFlags } from '../../../operator/src/cli/operator-cleanup-flags.js';
import { Registry } from '../../../operator/src/kube/metrics.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();
const policy: SweepPolicy = { now: NOW, orphanMinAgeMs: 300_000, ttlGraceMs: 60_000 };

const job = (name: string, extra: Partial<JobFacts> = {}): JobFacts => ({
  namespace: 'ns',
  name,
  uid: `uid-${name}`,
  resourceVersion: '1',
  ...extra,
});

const owner = (name: string, uid = `uid-${name}`) => ({ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', name, uid });

const dependent = (name: string, extra: Partial<DependentFacts> = {}): DependentFacts => ({
  namespace: 'ns',
  name,
  uid: `uid-obj-${name}`,
  resourceVersion: '7',
  creationTimestamp: ago(3600),
  labels: { 'app.kubernetes.io/managed-by': 'ajo-operator', 'ajo.dev/job-name': name.replace(/-\d+$|-payload$/, '') },
  ownerReferences: [],
  ...extra,
});

describe('selectors', () => {
  test('pods are selected by ajo labels, never by name; Secrets are not swept at all (no list on Secrets)', () => {
    expect(POD_SELECTOR).toBe('app.kubernetes.io/managed-by=ajo-operator,ajo.dev/job-name');
  });
});

describe('judgePod', () => {
  const jobs = new JobIndex([job('live')]);

  test('a pod whose AnsibleJob owner exists is kept', () => {
    expect(judgePod(dependent('live-1', { ownerReferences: [owner('live')] }), jobs, policy)).toEqual({ orphan: false, reason: 'owned' });
  });

  test('a pod whose owner uid is gone is an orphan, even when a job of the same name exists again', () => {
    const pod = dependent('live-1', { ownerReferences: [owner('live', 'uid-of-a-deleted-live')] });
    expect(judgePod(pod, jobs, policy)).toEqual({ orphan: true, reason: 'owner-gone' });
  });

  test('owners of other kinds do not count; then the labels decide', () => {
    const replicaSet = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'uid-live' };
    expect(judgePod(dependent('gone-1', { ownerReferences: [replicaSet] }), jobs, policy)).toEqual({ orphan: true, reason: 'no-matching-job' });
  });

  test('without an owner, the job-uid label is matched before the job-name label', () => {
    const uidLabelled = (uid: string) => dependent('live-1', { labels: { 'ajo.dev/job-name': 'live', 'ajo.dev/job-uid': uid } });
    expect(judgePod(uidLabelled('uid-live'), jobs, policy)).toEqual({ orphan: false, reason: 'matching-job' });
    expect(judgePod(uidLabelled('uid-old'), jobs, policy)).toEqual({ orphan: true, reason: 'no-matching-job' });
    expect(judgePod(dependent('live-1'), jobs, policy)).toEqual({ orphan: false, reason: 'matching-job' });
    expect(judgePod(dependent('gone-1'), jobs, policy)).toEqual({ orphan: true, reason: 'no-matching-job' });
  });

  test('a job of that name in another namespace does not own it', () => {
    expect(judgePod(dependent('live-1', { namespace: 'other' }), jobs, policy)).toEqual({ orphan: true, reason: 'no-matching-job' });
  });

  test('the minimum age boundary: younger orphans and undatable ones stay', () => {
    const at = (seconds: number) => judgePod(dependent('gone-1', { creationTimestamp: ago(seconds) }), jobs, policy);
    expect(at(299)).toEqual({ orphan: false, reason: 'too-young' });
    expect(at(300)).toEqual({ orphan: true, reason: 'no-matching-job' });
    expect(judgePod(dependent('gone-1', { creationTimestamp: 'yesterday' }), jobs, policy)).toEqual({ orphan: false, reason: 'too-young' });
    const { creationTimestamp: _, ...undated } = dependent('gone-1');
    expect(judgePod(undated, jobs, policy)).toEqual({ orphan: false, reason: 'too-young' });
  });

  test('terminating pods are left to finish', () => {
    expect(judgePod(dependent('gone-1', { deletionTimestamp: ago(1) }), jobs, policy)).toEqual({ orphan: false, reason: 'terminating' });
  });
});

describe('the TTL safety net', () => {
  const finished = (ttl: number | undefined, completedSecondsAgo: number, phase = 'Succeeded') =>
    job('done', { phase, completionTime: ago(completedSecondsAgo), ...(ttl !== undefined ? { ttlSecondsAfterFinished: ttl } : {}) });

  test('deletes only after TTL plus the grace, so the controller acts first', () => {
    expect(ttlDeadline(finished(100, 0), 60_000)).toBe(NOW + 160_000);
    expect(expiredJobs([finished(100, 159)], policy)).toEqual([]);
    expect(expiredJobs([finished(100, 160)], policy).map((j) => j.name)).toEqual(['done']);
  });

  test('every terminal phase counts; unfinished, TTL-less, undated and terminating jobs never expire', () => {
    for (const phase of ['Succeeded', 'Failed', 'TimedOut', 'Cancelled']) expect(expiredJobs([finished(0, 3600, phase)], policy)).toHaveLength(1);
    expect(expiredJobs([finished(0, 3600, 'Running')], policy)).toEqual([]);
    expect(expiredJobs([finished(undefined, 3600)], policy)).toEqual([]);
    expect(expiredJobs([{ ...finished(0, 3600), completionTime: 'not a time' }], policy)).toEqual([]);
    expect(expiredJobs([{ ...finished(0, 3600), deletionTimestamp: ago(5) }], policy)).toEqual([]);
  });
});

describe('findOrphans', () => {
  test('judged against the jobs that remain: the leftovers of a just-deleted job go in the same sweep', () => {
    const expired = job('old', { phase: 'Succeeded', completionTime: ago(7200), ttlSecondsAfterFinished: 60 });
    const live = job('live', { phase: 'Running' });
    const observation = {
      pods: [dependent('old-1', { ownerReferences: [owner('old')] }), dependent('live-1', { ownerReferences: [owner('live')] })],
      jobs: [expired, live],
    };
    const before = findOrphans(observation, policy);
    expect(before.pods).toEqual([]);
    const remaining = observation.jobs.filter((j) => !expiredJobs(observation.jobs, policy).includes(j));
    const after = findOrphans({ ...observation, jobs: remaining }, policy);
    expect(after.pods.map((o) => [o.object.name, o.reason])).toEqual([['old-1', 'owner-gone']]);
  });
});

describe('liveArtifactStrings', () => {
  test('keeps /artifacts/<ident> of unfinished jobs only, with or without a subPath', () => {
    const strings = liveArtifactStrings([
      job('a', { phase: 'Running', artifactsPath: 'team/artifacts/a-2' }),
      job('b', { phase: 'Pending', artifactsPath: 'artifacts/b-1' }),
      job('c', { phase: 'Succeeded', artifactsPath: 'artifacts/c-1' }),
      job('d', { artifactsPath: 'artifacts/d-1' }),
      job('e', { phase: 'Running' }),
      job('f', { phase: 'Running', artifactsPath: 'artifacts/..' }),
    ]);
    expect(strings).toEqual(['/artifacts/a-2', '/artifacts/b-1', '/artifacts/d-1']);
  });
});

describe('jobFacts', () => {
  const raw = (extra: Record<string, unknown>) => ({
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJob',
    metadata: { name: 'demo', namespace: 'ns', uid: 'u', resourceVersion: '3' },
    ...extra,
  });

  test('reads TTL, phase, completion and artifacts path', () => {
    const facts = jobFacts(
      raw({
        spec: { ttlSecondsAfterFinished: 30, payload: { secret: { name: 'demo-payload' }, sha256: 'x' } },
        status: { phase: 'Failed', completionTime: '2026-01-01T00:00:00Z', artifacts: { volume: 'v', path: 'artifacts/demo-1' } },
      }),
    );
    expect(facts).toEqual({
      namespace: 'ns', name: 'demo', uid: 'u', resourceVersion: '3', phase: 'Failed', completionTime: '2026-01-01T00:00:00Z',
      ttlSecondsAfterFinished: 30, artifactsPath: 'artifacts/demo-1',
    });
  });

  test('a job the controller cannot parse still owns its objects; broken fields are just unknown', () => {
    expect(jobFacts(raw({ spec: { ttlSecondsAfterFinished: 'soon', payload: 7 }, status: 'weird' }))).toEqual({
      namespace: 'ns', name: 'demo', uid: 'u', resourceVersion: '3',
    });
  });

  test('without readable metadata there are no facts (the list then fails as a whole)', () => {
    expect(jobFacts({ metadata: { name: 'demo' } })).toBeUndefined();
  });
});

describe('sweep reporting', () => {
  const outcome = () => emptyOutcome(new Date(NOW));

  test('a sweep that changed nothing and failed nowhere has no Event', () => {
    expect(sweepEventOf(outcome())).toBeUndefined();
  });

  test('removals: Normal CleanupSwept listing what went', () => {
    const o = outcome();
    o.removed.pod.push('ns/a-1', 'ns/b-1');
    o.removed.ansiblejob.push('ns/old');
    o.removed.artifacts_dir.push('/vol/artifacts/x-1');
    o.bytesFreed = 4096;
    expect(sweepEventOf(o)).toEqual({
      type: 'Normal',
      reason: 'CleanupSwept',
      message: 'removed 2 orphaned pod(s) (ns/a-1, ns/b-1); 1 expired AnsibleJob(s) (ns/old); 1 artifacts dir(s) (/vol/artifacts/x-1); 4096 bytes freed',
    });
  });

  test('failures: Warning CleanupFailed, also when nothing was removed; refusals: CleanupRefused', () => {
    const o = outcome();
    o.errors.push({ kind: 'pod', message: 'listing pods: forbidden' });
    expect(sweepEventOf(o)).toEqual({ type: 'Warning', reason: 'CleanupFailed', message: 'removed nothing; 1 error(s): pod: listing pods: forbidden' });
    const refused = outcome();
    refused.refusal = 'Provided pattern could result in deleting system folders:\n/etc\nRefusing';
    expect(sweepEventOf(refused)).toMatchObject({ type: 'Warning', reason: 'CleanupRefused', message: expect.stringContaining('folders: /etc Refusing') });
  });

  test('long lists are shortened and the message fits an Event', () => {
    const o = outcome();
    for (let i = 0; i < 400; i += 1) o.removed.pod.push(`namespace-${i}/job-with-a-long-name-${i}-1`);
    for (let i = 0; i < 50; i += 1) o.errors.push({ kind: 'pod', message: `deleting pod ns/p-${i}: ${'x'.repeat(40)}` });
    const event = sweepEventOf(o);
    expect(event?.message).toContain('400 orphaned pod(s) (namespace-0/job-with-a-long-name-0-1,');
    expect(event?.message).toContain('and 395 more');
    expect(event?.message.length).toBeLessThanOrEqual(EVENT_MESSAGE_LIMIT);
  });

  test('metrics: zero series up front, counters by kind, last sweep gauges', async () => {
    const registry = new Registry();
    const metrics = cleanupMetrics(registry);
    expect(cleanupMetrics(registry)).toBe(metrics);
    expect(await registry.metrics()).toContain('ajo_cleanup_removed_total{kind="pod"} 0');
    expect(await registry.metrics()).not.toContain('kind="secret"');
    const o = outcome();
    o.removed.pod.push('ns/a-1', 'ns/b-1');
    o.errors.push({ kind: 'pod', message: 'x' });
    o.durationMs = 1500;
    o.bytesFreed = 10;
    recordSweepMetrics(metrics, o);
    recordSweepMetrics(metrics, outcome());
    const text = await registry.metrics();
    expect(text).toContain('ajo_cleanup_removed_total{kind="pod"} 2');
    expect(text).toContain('ajo_cleanup_errors_total{kind="pod"} 1');
    expect(text).toContain('ajo_cleanup_sweeps_total{result="failed"} 1');
    expect(text).toContain('ajo_cleanup_sweeps_total{result="ok"} 1');
    expect(text).toContain('ajo_cleanup_freed_bytes_total 10');
    expect(text).toContain(`ajo_cleanup_last_sweep_timestamp_seconds ${NOW / 1000}`);
    expect(text).toContain('ajo_cleanup_last_sweep_duration_seconds 0');
    expect(text).toContain('ajo_cleanup_last_sweep_removed 0');
  });
});

describe('configuration', () => {
  const base: CleanupConfig = { intervalMs: 600_000, orphanMinAgeMs: 300_000, ttlGraceMs: 60_000 };

  test('artifacts and image settings are checked with messages that name the flag', () => {
    expect(cleanupConfigProblems(base)).toEqual([]);
    expect(
      cleanupConfigProblems({
        ...base,
        artifacts: { dir: 'relative', pattern: '/abs/*', gracePeriodMinutes: -1 },
        images: { endpoint: 'ssh://host', remove: [], prune: false, pruneLabels: ['a b'], pruneUntil: 'soon' },
      }),
    ).toEqual([
      '--artifacts-dir must be an absolute path, got "relative"',
      '--cleanup-pattern must be relative to --artifacts-dir, got "/abs/*"',
      '--cleanup-grace-period must be a whole number of minutes >= 0',
      expect.stringMatching(/^--image-cleanup-endpoint: unsupported engine address ssh:\/\/host/),
      '--image-cleanup-endpoint needs --image-cleanup-remove or --image-prune: there is nothing to do',
      '--image-prune-label: "a b" is not KEY, KEY=VALUE, !KEY or !KEY=VALUE',
      '--image-prune-until: "soon" is not a duration (24h), unix seconds, or an RFC 3339 time',
    ]);
    expect(cleanupConfigProblems({ ...base, artifacts: { dir: '/v', pattern: 'a/../b', gracePeriodMinutes: 0 } })).toEqual([
      `--cleanup-pattern may not contain '..': "a/../b"`,
    ]);
  });

  const flags = { cleanupInterval: 600, cleanupOrphanMinAge: 300 };

  test('flags: the orphan sweep by default, artifacts and images only when asked for', () => {
    expect(cleanupConfigFromFlags(flags)).toEqual({ intervalMs: 600_000, orphanMinAgeMs: 300_000, ttlGraceMs: 60_000 });
    expect(cleanupConfigFromFlags({ ...flags, cleanupInterval: 0 })).toBeUndefined();
    expect(cleanupConfigFromFlags({ ...flags, artifactsDir: '/var/lib/ajo' })?.artifacts).toEqual({ dir: '/var/lib/ajo', pattern: 'artifacts/*', gracePeriodMinutes: 60 });
    expect(
      cleanupConfigFromFlags({ ...flags, imageCleanupEndpoint: 'unix:///run/podman/podman.sock', imagePrune: true, imagePruneLabel: ['ajo.dev/ee'], imagePruneUntil: '24h' })?.images,
    ).toEqual({ endpoint: 'unix:///run/podman/podman.sock', remove: [], prune: true, pruneLabels: ['ajo.dev/ee'], pruneUntil: '24h' });
  });

  test('flags: image cleanup never picks an engine by itself; half-given settings are errors', () => {
    expect(() => cleanupConfigFromFlags({ ...flags, imageCleanupRemove: ['old:1'] })).toThrow('image cleanup needs an explicit --image-cleanup-endpoint');
    expect(() => cleanupConfigFromFlags({ ...flags, imagePrune: true })).toThrow('image cleanup needs an explicit --image-cleanup-endpoint');
    expect(() => cleanupConfigFromFlags({ ...flags, cleanupPattern: '*' })).toThrow('--cleanup-pattern and --cleanup-grace-period need --artifacts-dir');
    expect(() => cleanupConfigFromFlags({ ...flags, imageCleanupEndpoint: 'unix:///x.sock', imageCleanupRemove: ['a'], imagePruneUntil: '1h' })).toThrow(
      '--image-prune-label and --image-prune-until need --image-prune',
    );
    expect(() => cleanupConfigFromFlags({ ...flags, cleanupInterval: 0, artifactsDir: '/v' })).toThrow('--cleanup-interval 0 turns sweeps off');
  });

  test('Events are about the leader Lease, else the operator Pod, else nothing', () => {
    expect(eventTargetFor({ namespace: 'ajo-system', leaseName: 'ajo-operator' }, { POD_NAME: 'p', POD_NAMESPACE: 'ajo-system' })).toEqual({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'ajo-system', name: 'ajo-operator',
    });
    expect(eventTargetFor(undefined, { POD_NAME: 'p', POD_NAMESPACE: 'ajo-system' })).toEqual({ apiVersion: 'v1', kind: 'Pod', namespace: 'ajo-system', name: 'p' });
    expect(eventTargetFor(undefined, { POD_NAMESPACE: 'ajo-system' })).toBeUndefined();
  });
});
