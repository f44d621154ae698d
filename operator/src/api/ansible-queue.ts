/**
 * The AnsibleQueue API: at most `maxRunning` of the jobs that name the queue hold a slot at
 * once. status.admitted is the slot ledger the operator writes with optimistic concurrency
 * before any job launches (see controller/queue/admission.ts for why that keeps the limit).
 */
import * as z from 'zod';
import { Condition, ObjectMeta } from './ansible-job.js';
import { buildCustomResourceDefinition, type CustomResourceDefinition } from './crd.js';

export const QUEUE_KIND = 'AnsibleQueue';
export const QUEUE_PLURAL = 'ansiblequeues';
export const QUEUE_SINGULAR = 'ansiblequeue';
export const QUEUE_SHORT_NAMES = ['aq'];
/** Slots a queue can have; the ledger in status lists each holder, so it stays bounded. */
export const MAX_QUEUE_SLOTS = 1000;

export const AnsibleQueueSpec = z.object({
  maxRunning: z.int().min(0).max(MAX_QUEUE_SLOTS).meta({
    description: 'Jobs of this queue that may hold a slot (be launched and not finished, or still have a live pod) at once; 0 holds every job.',
  }),
});
export type AnsibleQueueSpec = z.output<typeof AnsibleQueueSpec>;

export const SlotHolder = z.object({ name: z.string().max(253), uid: z.string().max(64) });
export type SlotHolder = z.infer<typeof SlotHolder>;

export const AnsibleQueueStatus = z.object({
  running: z.int().min(0).optional().meta({ description: 'Jobs holding a slot.' }),
  waiting: z.int().min(0).optional().meta({ description: 'Jobs waiting for a slot (phase Queued).' }),
  admitted: z.array(SlotHolder).max(MAX_QUEUE_SLOTS).optional().meta({
    description: 'The slot ledger: every job holding a slot. Written with the resourceVersion before a job may launch.',
  }),
  observedGeneration: z.int().min(0).optional(),
  conditions: z.array(Condition).max(16).optional(),
});
export type AnsibleQueueStatus = z.infer<typeof AnsibleQueueStatus>;

export const AnsibleQueue = z.object({
  apiVersion: z.string(),
  kind: z.literal(QUEUE_KIND),
  metadata: ObjectMeta,
  spec: AnsibleQueueSpec,
  status: AnsibleQueueStatus.optional(),
});
export type AnsibleQueue = z.output<typeof AnsibleQueue>;

export function buildQueueCrd(): CustomResourceDefinition {
  return buildCustomResourceDefinition({
    kind: QUEUE_KIND,
    plural: QUEUE_PLURAL,
    singular: QUEUE_SINGULAR,
    shortNames: QUEUE_SHORT_NAMES,
    description: 'AnsibleQueue limits how many AnsibleJobs that name it (spec.queue) run at once.',
    spec: AnsibleQueueSpec,
    status: AnsibleQueueStatus,
    printerColumns: [
      { name: 'Max', type: 'integer', jsonPath: '.spec.maxRunning' },
      { name: 'Running', type: 'integer', jsonPath: '.status.running' },
      { name: 'Waiting', type: 'integer', jsonPath: '.status.waiting' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}
