// What the cleanup reconciler may delete, decided from one observation of the
// cluster. Pure: the same observation and clock always give the same plan, so a
// sweep can be repeated at any time (level-based), and a second sweep over the
// result of the first finds nothing.
//
// Objects are only ever considered when the API server selected them by label
// (see observe.ts); names are never matched. Whether an object is an orphan is
// judged by uid wherever one is recorded, so a job deleted and re-created
// under the same name does not adopt its predecessor's leftovers.
import { API_VERSION, GROUP, KIND, LABEL_JOB_NAME, LABEL_JOB_UID, TERMINAL_PHASES, type Phase } from '../api/ansible-job.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/** A labelled worker pod, as far as the sweep needs to know it (metadata only). */
export interface DependentFacts {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels: Record<string, string>;
  ownerReferences: OwnerReference[];
}

export interface JobFacts {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  deletionTimestamp?: string;
  phase?: string;
  completionTime?: string;
  ttlSecondsAfterFinished?: number;
  /** status.artifacts.path, e.g. `team-a/artifacts/demo-1` */
  artifactsPath?: string;
}

export interface Observation {
  pods: DependentFacts[];
  jobs: JobFacts[];
}

export interface SweepPolicy {
  now: number;
  /**
   * Orphans younger than this are kept: a pod created a moment ago may belong
   * to a job the job list (read after the pods) does not show yet.
   */
  orphanMinAgeMs: number;
  /**
   * The controller deletes a job the moment its TTL passes; the sweep waits
   * this much longer, so it only acts where the controller did not.
   */
  ttlGraceMs: number;
}

export type OrphanReason = 'owner-gone' | 'no-matching-job';
export type KeepReason = 'owned' | 'matching-job' | 'too-young' | 'terminating' | 'unlabelled';

export type Verdict = { orphan: true; reason: OrphanReason } | { orphan: false; reason: KeepReason };

export interface Orphan {
  object: DependentFacts;
  reason: OrphanReason;
}

export interface Orphans {
  pods: Orphan[];
}

const nsKey = (namespace: string, name: string) => `${namespace}/${name}`;

/** Lookups over the observed jobs. */
export class JobIndex {
  private readonly uids = new Set<string>();
  private readonly names = new Set<string>();

  constructor(jobs: readonly JobFacts[]) {
    for (const job of jobs) {
      this.uids.add(job.uid);
      this.names.add(nsKey(job.namespace, job.name));
    }
  }

  hasUid(uid: string): boolean {
    return this.uids.has(uid);
  }
  hasName(namespace: string, name: string): boolean {
    return this.names.has(nsKey(namespace, name));
  }
}

const isAnsibleJobOwner = (reference: OwnerReference) =>
  reference.kind === KIND && (reference.apiVersion === API_VERSION || reference.apiVersion.startsWith(`${GROUP}/`));

/**
 * The owner an object points at, most precise first: an AnsibleJob
 * ownerReference, the job-uid label, the job-name label.
 */
function ownership(object: DependentFacts, jobs: JobIndex): Verdict {
  const owners = object.ownerReferences.filter(isAnsibleJobOwner);
  if (owners.length > 0) {
    return owners.some((owner) => jobs.hasUid(owner.uid)) ? { orphan: false, reason: 'owned' } : { orphan: true, reason: 'owner-gone' };
  }
  const uid = object.labels[LABEL_JOB_UID];
  if (uid) return jobs.hasUid(uid) ? { orphan: false, reason: 'matching-job' } : { orphan: true, reason: 'no-matching-job' };
  const name = object.labels[LABEL_JOB_NAME];
  if (name) return jobs.hasName(object.namespace, name) ? { orphan: false, reason: 'matching-job' } : { orphan: true, reason: 'no-matching-job' };
  // The selector asks for the job-name label; an object without it was not selected by us.
  return { orphan: false, reason: 'unlabelled' };
}

function ageGate(object: DependentFacts, verdict: Verdict, policy: SweepPolicy): Verdict {
  if (!verdict.orphan) return verdict;
  const created = object.creationTimestamp ? Date.parse(object.creationTimestamp) : Number.NaN;
  // An unknown age is treated as young: never delete what cannot be dated.
  if (Number.isNaN(created) || policy.now - created < policy.orphanMinAgeMs) return { orphan: false, reason: 'too-young' };
  return verdict;
}

export function judgePod(pod: DependentFacts, jobs: JobIndex, policy: SweepPolicy): Verdict {
  if (pod.deletionTimestamp) return { orphan: false, reason: 'terminating' };
  return ageGate(pod, ownership(pod, jobs), policy);
}

const isTerminalPhase = (phase: string | undefined) => phase !== undefined && TERMINAL_PHASES.has(phase as Phase);

/** When the safety net may delete a finished job; undefined when it never may. */
export function ttlDeadline(job: JobFacts, ttlGraceMs: number): number | undefined {
  if (job.deletionTimestamp || !isTerminalPhase(job.phase) || job.ttlSecondsAfterFinished === undefined || !job.completionTime) return undefined;
  const completed = Date.parse(job.completionTime);
  if (Number.isNaN(completed)) return undefined;
  return completed + job.ttlSecondsAfterFinished * 1000 + ttlGraceMs;
}

export function isExpired(job: JobFacts, policy: SweepPolicy): boolean {
  const deadline = ttlDeadline(job, policy.ttlGraceMs);
  return deadline !== undefined && policy.now >= deadline;
}

/**
 * `/artifacts/<ident>` of every job that has not finished. Matched as a
 * substring by the dir sweep, so it may keep a neighbour too (`demo-1` also
 * keeps `demo-10`); keeping too much is the safe side.
 */
export function liveArtifactStrings(jobs: readonly JobFacts[]): string[] {
  const strings = new Set<string>();
  for (const job of jobs) {
    if (isTerminalPhase(job.phase) || !job.artifactsPath) continue;
    const segments = job.artifactsPath.split('/').filter(Boolean);
    const ident = segments.at(-1);
    if (ident && ident !== '..' && ident !== '.') strings.add(`/${segments.length > 1 ? `${segments.at(-2)}/` : ''}${ident}`);
  }
  return [...strings].sort();
}

/** Finished jobs whose TTL passed (plus the grace) and that nobody deleted yet. */
export function expiredJobs(jobs: readonly JobFacts[], policy: SweepPolicy): JobFacts[] {
  return jobs.filter((job) => isExpired(job, policy));
}

/**
 * Orphaned pods, judged against `jobs`. The reconciler passes the
 * jobs that still exist after it deleted the expired ones, so one sweep also
 * takes their leftovers where no garbage collector does, and a second sweep
 * finds nothing.
 */
export function findOrphans(observation: Observation, policy: SweepPolicy): Orphans {
  const jobs = new JobIndex(observation.jobs);
  const orphansOf = (objects: readonly DependentFacts[], judge: typeof judgePod): Orphan[] =>
    objects.flatMap((object) => {
      const verdict = judge(object, jobs, policy);
      return verdict.orphan ? [{ object, reason: verdict.reason }] : [];
    });
  return { pods: orphansOf(observation.pods, judgePod) };
}
