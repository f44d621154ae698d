/**
 * The status document served by the `process` sidecar (GET /status, --status-file) and,
 * trimmed, written to its termination log.
 *
 * The streaming core will export this schema as `StatusDocument` from
 * operator/src/artifacts/status-document.ts; until it does, this is a local copy of the
 * agreed shape. The controller reads it leniently (unknown fields pass, missing ones are
 * tolerated in the termination summary) because the sidecar image may be older or newer
 * than the operator.
 */
import { z } from 'zod/v4';

const HostCounts = z.object({
  ok: z.number(),
  changed: z.number(),
  failures: z.number(),
  unreachable: z.number(),
  skipped: z.number(),
  rescued: z.number(),
  ignored: z.number(),
});

export const StatusDocument = z
  .object({
    ident: z.string().nullable(),
    streamStatus: z.enum(['waiting', 'running', 'finished', 'broken']),
    status: z.enum(['starting', 'running', 'successful', 'failed', 'timeout', 'canceled', 'error']).nullable(),
    rc: z.number().int().nullable(),
    eventCount: z.number().int(),
    lastEvent: z.object({ counter: z.number(), event: z.string(), created: z.string().nullable() }).nullable(),
    hostCounts: HostCounts.nullable(),
    stdoutTail: z.string(),
    explanation: z.string().nullable(),
    artifactsDir: z.string(),
    startedAt: z.string().nullable(),
    updatedAt: z.string(),
  })
  .loose();
export type StatusDocument = z.infer<typeof StatusDocument>;

/** The termination log holds a summary of the same document; every field may be missing. */
export const TerminationSummary = StatusDocument.partial();
export type TerminationSummary = z.infer<typeof TerminationSummary>;

export function parseStatusDocument(raw: unknown): StatusDocument | undefined {
  const parsed = StatusDocument.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Reads a container's termination message. It is JSON when the sidecar finished normally;
 * anything else (a crash's last words, truncated JSON) is kept as an explanation.
 */
export function parseTerminationMessage(message: string | undefined): TerminationSummary | undefined {
  if (!message || message.trim() === '') return undefined;
  try {
    const parsed = TerminationSummary.safeParse(JSON.parse(message));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: fall through
  }
  return { explanation: message.trim().slice(0, 1024) };
}
