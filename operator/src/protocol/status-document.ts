/**
 * The status document: what the `process` sidecar knows about the job it follows, and the
 * contract between it and the operator. The sidecar serves it (GET /status, --status-file)
 * and writes its final form as the container's termination message; the operator polls the
 * one and reads the other. Host counts and runner statuses are defined here once, and the
 * AnsibleJob API (api/ansible-job.ts) reuses them for its status.
 */
import * as z from 'zod';

const count = z.int().min(0);

export const hostCountsSchema = z.object({
  ok: count,
  changed: count,
  failures: count,
  unreachable: count,
  skipped: count,
  rescued: count,
  ignored: count,
});
export type HostCounts = z.infer<typeof hostCountsSchema>;

export const runnerStatusSchema = z.enum(['starting', 'running', 'successful', 'failed', 'timeout', 'canceled', 'error']);
export type RunnerStatus = z.infer<typeof runnerStatusSchema>;

/**
 * What `ajo compose` made for a spec.source job: the sidecar composes the stream before it
 * follows the worker, and carries this in every document so the operator can record it.
 */
export const composedSchema = z.object({
  /** The commit checked out, for a git project. */
  commit: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/).optional(),
  /** sha256 of the transmit stream the worker read, hex. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: count,
  /** Files (and symlinks) in the private data dir the stream carries. */
  files: count,
  /** Milliseconds per step (startupMs: the process before compose began; gitMs, projectMs, requirementsMs, dataDirMs, transmitMs). */
  timingsMs: z.record(z.string().max(32), count).optional(),
});
export type Composed = z.infer<typeof composedSchema>;

export const statusDocumentSchema = z.object({
  ident: z.string().nullable(),
  /** waiting: no bytes yet; running: frames arriving; finished: eof seen; broken: the stream is malformed or cut. */
  streamStatus: z.enum(['waiting', 'running', 'finished', 'broken']),
  status: runnerStatusSchema.nullable(),
  rc: z.int().nullable(),
  eventCount: count,
  lastEvent: z.object({ counter: z.int(), event: z.string(), created: z.string().nullable() }).nullable(),
  hostCounts: hostCountsSchema.nullable(),
  stdoutTail: z.string(),
  explanation: z.string().nullable(),
  artifactsDir: z.string(),
  startedAt: z.string().nullable(),
  updatedAt: z.string(),
  /** Present when this sidecar composed the job's stream (spec.source). */
  composed: composedSchema.optional(),
});
export type StatusDocument = z.infer<typeof statusDocumentSchema>;

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

// The operator reads documents leniently, because the sidecar image may be older or newer
// than the operator: a fetched document must match; a termination message may lack fields or
// not be JSON at all (a crash's last words).

/** What a termination message may hold: any part of a document. */
export type TerminationSummary = Partial<StatusDocument>;
const terminationSummarySchema = statusDocumentSchema.partial().loose();

/** A document fetched from the sidecar, or undefined when it does not match the contract. */
export function parseStatusDocument(raw: unknown): StatusDocument | undefined {
  const parsed = statusDocumentSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** The sidecar's termination message: a document's fields, or its raw text as the explanation. */
export function parseTerminationMessage(message: string | undefined): TerminationSummary | undefined {
  if (!message || message.trim() === '') return undefined;
  try {
    const parsed = terminationSummarySchema.safeParse(JSON.parse(message));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: kept as the explanation below
  }
  return { explanation: message.trim().slice(0, 1024) };
}
