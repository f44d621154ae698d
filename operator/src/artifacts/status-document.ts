/**
 * The small document the `process` sidecar keeps about the job it follows.
 * The operator polls it (HTTP) and reads its final form from the termination
 * message, so its shape is a contract between the two: zod owns it.
 */
import { z } from 'zod';

export const hostCountsSchema = z.object({
  ok: z.number().int(),
  changed: z.number().int(),
  failures: z.number().int(),
  unreachable: z.number().int(),
  skipped: z.number().int(),
  rescued: z.number().int(),
  ignored: z.number().int(),
});
export type HostCounts = z.infer<typeof hostCountsSchema>;

export const runnerStatusSchema = z.enum(['starting', 'running', 'successful', 'failed', 'timeout', 'canceled', 'error']);
export type RunnerStatus = z.infer<typeof runnerStatusSchema>;

export const statusDocumentSchema = z.object({
  ident: z.string().nullable(),
  /** waiting: no bytes yet; running: frames arriving; finished: eof seen; broken: the stream is malformed or cut. */
  streamStatus: z.enum(['waiting', 'running', 'finished', 'broken']),
  status: runnerStatusSchema.nullable(),
  rc: z.number().int().nullable(),
  eventCount: z.number().int(),
  lastEvent: z.object({ counter: z.number().int(), event: z.string(), created: z.string().nullable() }).nullable(),
  hostCounts: hostCountsSchema.nullable(),
  stdoutTail: z.string(),
  explanation: z.string().nullable(),
  artifactsDir: z.string(),
  startedAt: z.string().nullable(),
  updatedAt: z.string(),
});
export type StatusDocument = z.infer<typeof statusDocumentSchema>;
export const StatusDocument = statusDocumentSchema;

/** playbook_on_stats maps each counter to {host: n}; the document keeps the totals. */
export function hostCountsFromStats(eventData: Record<string, unknown>): HostCounts {
  const total = (key: string): number => {
    const perHost = eventData[key];
    if (!perHost || typeof perHost !== 'object') return 0;
    return Object.values(perHost as Record<string, unknown>).reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
  };
  return {
    ok: total('ok'),
    changed: total('changed'),
    failures: total('failures'),
    unreachable: total('dark'),
    skipped: total('skipped'),
    rescued: total('rescued'),
    ignored: total('ignored'),
  };
}
