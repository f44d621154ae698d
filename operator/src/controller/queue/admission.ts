/**
 * The pure part of AnsibleQueue admission: which jobs hold a slot, which wait and in what
 * order, and which to admit now. Everything is derived from what the caches show at this
 * reconcile, never from a counter kept between reconciles.
 *
 * Why the limit holds even with a restarted operator or two replicas racing: a job launches
 * only once its status records `queue.admittedAt`, and the queue reconcile writes that only
 * after it wrote the queue's slot ledger (status.admitted) with the resourceVersion it read.
 * Two admitters that read the same ledger cannot both write it (one gets 409 Conflict and
 * decides again from fresh state), and the ledger never lists more than maxRunning holders.
 * A holder leaves the ledger only when its job is finished (or gone) and no pod of it is
 * still live, so every live worker pod of the queue belongs to a ledger entry.
 */
import type { SlotHolder } from '../../api/ansible-queue.js';

/** What admission needs to know about one job that names (or named) the queue. */
export interface QueueMember {
  name: string;
  uid: string;
  creationTimestamp: string;
  priority: number;
  /** Finished (Succeeded, Failed, TimedOut, Cancelled). */
  terminal: boolean;
  /** status.queue.admittedAt is set: the job holds (or held) a slot. */
  admitted: boolean;
  /** Launched before any queue admitted it (e.g. before it was queued): it runs, so it holds a slot. */
  launched: boolean;
  /** spec.suspend before launch: it keeps its place but is not admitted. */
  suspended: boolean;
  /** metadata.deletionTimestamp is set. */
  deleting: boolean;
  /** status.queue.position as stored. */
  position?: number;
}

/** Higher priority first, then older first, then by name: a total order, so every admitter agrees. */
export function compareForQueue(a: QueueMember, b: QueueMember): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const byTime = Date.parse(a.creationTimestamp) - Date.parse(b.creationTimestamp);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export interface AdmissionInput {
  maxRunning: number;
  /** The queue's stored ledger (status.admitted). */
  ledger: readonly SlotHolder[];
  members: readonly QueueMember[];
  /** uids of jobs that still have a worker pod that is not Succeeded or Failed (from the pod cache). */
  liveJobUids: ReadonlySet<string>;
}

export interface AdmissionPlan {
  /** The ledger to store: every slot holder, the newly admitted last, in admission order. */
  holders: SlotHolder[];
  /** Members to admit now, in queue order (their job status still has to record it). */
  admit: QueueMember[];
  /** Holders whose job status does not record the admission yet (a write the last admitter did not get to). */
  unrecorded: QueueMember[];
  /** Waiting members in queue order with their 1-based positions (suspended ones have none). */
  waiting: { member: QueueMember; position: number | undefined }[];
}

export function planAdmission(input: AdmissionInput): AdmissionPlan {
  const byUid = new Map(input.members.map((member) => [member.uid, member]));
  const holds = (uid: string): boolean => {
    const member = byUid.get(uid);
    return input.liveJobUids.has(uid) || (member !== undefined && !member.terminal && !member.deleting);
  };
  const holders: SlotHolder[] = [];
  const seen = new Set<string>();
  const keep = (holder: SlotHolder) => {
    if (seen.has(holder.uid) || !holds(holder.uid)) return;
    seen.add(holder.uid);
    holders.push({ name: holder.name, uid: holder.uid });
  };
  // The ledger first (its order is admission order), then jobs whose status says they were
  // admitted or launched but that the ledger lacks (a queue deleted and created again).
  for (const holder of input.ledger) keep(holder);
  for (const member of [...input.members].sort(compareForQueue)) if (member.admitted || member.launched) keep(member);

  const candidates = input.members
    .filter((member) => !seen.has(member.uid) && !member.admitted && !member.launched && !member.terminal && !member.deleting)
    .sort(compareForQueue);
  const free = Math.max(0, input.maxRunning - holders.length);
  const admit: QueueMember[] = [];
  for (const member of candidates) {
    if (admit.length >= free) break;
    // Strict FIFO: a suspended job keeps its place without blocking the ones behind it.
    if (member.suspended) continue;
    admit.push(member);
  }
  for (const member of admit) holders.push({ name: member.name, uid: member.uid });
  const admitted = new Set(admit.map((member) => member.uid));
  let position = 0;
  const waiting = candidates
    .filter((member) => !admitted.has(member.uid))
    .map((member) => ({ member, position: member.suspended ? undefined : (position += 1) }));
  const unrecorded = holders
    .map((holder) => byUid.get(holder.uid))
    .filter((member): member is QueueMember => member !== undefined && !admitted.has(member.uid) && !member.admitted && !member.launched && !member.terminal && !member.deleting);
  return { holders, admit, unrecorded, waiting };
}
