/**
 * The status document served by the `process` sidecar (GET /status, --status-file) and
 * written, whole, as its termination message. Its schema belongs to the streaming core
 * (artifacts/status-document.ts); the controller reads it leniently because the sidecar
 * image may be older or newer than the operator: a fetched document must match, a
 * termination message may lack fields or not be JSON at all (a crash's last words).
 */
import { statusDocumentSchema, type StatusDocument } from '../artifacts/status-document.js';

export type { StatusDocument };

const terminationSummarySchema = statusDocumentSchema.partial().passthrough();
export type TerminationSummary = Partial<StatusDocument>;

export function parseStatusDocument(raw: unknown): StatusDocument | undefined {
  const parsed = statusDocumentSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

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
