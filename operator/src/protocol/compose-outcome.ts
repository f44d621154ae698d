/**
 * The compose init container's termination message: what `ajo compose` made (the resolved
 * commit, the stream's sha256) or why it could not (a reason and the tool's own message).
 * The controller reads it from the pod status; Kubernetes keeps at most 4096 bytes of it.
 */
import { z } from 'zod';

export const COMPOSE_FAILURE_REASONS = [
  'SourceUnavailable',
  'RevisionNotFound',
  'AuthFailed',
  'HostKeyMismatch',
  'InvalidSource',
  'RequirementsFailed',
  'ComposeFailed',
] as const;
export const ComposeFailureReason = z.enum(COMPOSE_FAILURE_REASONS);
export type ComposeFailureReason = z.infer<typeof ComposeFailureReason>;

export const ComposeSuccess = z.object({
  commit: z.string().regex(/^[0-9a-f]{40,64}$/).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.int().min(0),
  files: z.int().min(0),
});
export type ComposeSuccess = z.infer<typeof ComposeSuccess>;

export const ComposeFailure = z.object({ reason: ComposeFailureReason, message: z.string() });
export type ComposeFailure = z.infer<typeof ComposeFailure>;

/** Kubernetes truncates a termination message at 4096 bytes; ours must stay valid JSON. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

/** The failure as one JSON line that fits the limit, the message shortened from its middle. */
export function encodeComposeFailure(failure: ComposeFailure): string {
  let message = failure.message;
  let line = JSON.stringify({ reason: failure.reason, message });
  while (Buffer.byteLength(line) > TERMINATION_MESSAGE_LIMIT) {
    const excess = Buffer.byteLength(line) - TERMINATION_MESSAGE_LIMIT + 16;
    const keep = Math.max(0, message.length - excess);
    message = `${message.slice(0, Math.ceil(keep / 2))} … ${message.slice(message.length - Math.floor(keep / 2))}`;
    line = JSON.stringify({ reason: failure.reason, message });
  }
  return line;
}

export type ComposeOutcome = { ok: true; result: ComposeSuccess } | { ok: false; failure: ComposeFailure };

/** Reads a termination message; undefined when it is neither shape (e.g. the container was killed). */
export function parseComposeOutcome(text: string | undefined): ComposeOutcome | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const success = ComposeSuccess.safeParse(value);
  if (success.success) return { ok: true, result: success.data };
  const failure = ComposeFailure.safeParse(value);
  if (failure.success) return { ok: false, failure: failure.data };
  return undefined;
}
