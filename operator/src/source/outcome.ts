/**
 * What `ajo compose` reports, shared with the controller that reads it back: the failure
 * reasons, the one JSON line written to stdout and the termination log, and the exit codes.
 *
 * Pure (zod only): the controller parses the sidecar's termination message with it. Success
 * is the status document's `composed` (protocol/status-document.ts), which the sidecar serves.
 */
import * as z from 'zod';
import { composedSchema } from '../protocol/status-document.js';

/** Why a compose failed; each is a reason the AnsibleJob can carry as is. */
export const COMPOSE_REASONS = [
  /** The git host or repository cannot be reached: DNS, refused or timed out connections, no such repository. */
  'SourceUnavailable',
  /** The repository is there but has no branch, tag or commit by that name. */
  'RevisionNotFound',
  /** The git server refused the credentials (SSH key, HTTPS token). */
  'AuthFailed',
  /** The SSH host key is not the one in the Secret's known_hosts (or is not there at all). */
  'HostKeyMismatch',
  /** The source itself is wrong: a playbook not in the project, a path leaving it, a bad vars document, a missing key. */
  'InvalidSource',
  /** ansible-galaxy could not install the project's roles or collections. */
  'RequirementsFailed',
  /** Anything else: a bug, a full disk, a missing program. */
  'ComposeFailed',
] as const;
export const ComposeReason = z.enum(COMPOSE_REASONS);
export type ComposeReason = z.infer<typeof ComposeReason>;

/** Kubernetes keeps at most this many bytes of a termination message. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

export const ComposeSuccess = composedSchema;
export type ComposeSuccess = z.infer<typeof ComposeSuccess>;

export const ComposeFailure = z.object({
  reason: ComposeReason,
  /** What failed, with git's or ansible-galaxy's own words. */
  message: z.string(),
});
export type ComposeFailure = z.infer<typeof ComposeFailure>;

export const ComposeOutcome = z.union([ComposeSuccess.strict(), ComposeFailure.strict()]);
export type ComposeOutcome = z.infer<typeof ComposeOutcome>;

export const isComposeFailure = (outcome: ComposeOutcome): outcome is ComposeFailure => 'reason' in outcome;

/** Exit codes of `ajo compose`. */
export const COMPOSE_EXIT = {
  ok: 0,
  /** An unclassified failure (ComposeFailed). */
  failed: 1,
  /** Bad flags, or a --source file that is not a valid source. */
  usage: 2,
  /** A classified failure of the source: every reason but ComposeFailed. */
  source: 3,
  /** Stopped by SIGTERM. */
  terminated: 143,
} as const;

/** The exit code for a failure with this reason. */
export const exitCodeFor = (reason: ComposeReason): number => (reason === 'ComposeFailed' ? COMPOSE_EXIT.failed : COMPOSE_EXIT.source);

/**
 * The termination message for an outcome: one JSON line of at most TERMINATION_MESSAGE_LIMIT
 * bytes. A long failure message is cut (at a character, never inside one) and marked with '…'.
 */
export function terminationMessage(outcome: ComposeOutcome): string {
  const line = JSON.stringify(outcome);
  if (utf8Length(line) <= TERMINATION_MESSAGE_LIMIT || !isComposeFailure(outcome)) return line;
  const chars = [...outcome.message];
  let low = 0;
  let high = chars.length;
  // The longest prefix whose JSON fits: escaping makes the size of a prefix hard to guess.
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    const candidate = JSON.stringify({ reason: outcome.reason, message: chars.slice(0, mid).join('') + '…' });
    if (utf8Length(candidate) <= TERMINATION_MESSAGE_LIMIT) low = mid;
    else high = mid - 1;
  }
  return JSON.stringify({ reason: outcome.reason, message: chars.slice(0, low).join('') + '…' });
}

/** A pod's termination message back as an outcome, or null when it is not one of ours. */
export function parseComposeOutcome(message: string): ComposeOutcome | null {
  let value: unknown;
  try {
    value = JSON.parse(message.trim());
  } catch {
    return null;
  }
  const parsed = ComposeOutcome.safeParse(value);
  return parsed.success ? parsed.data : null;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}
