// The JSON line `ajo compose` leaves in the termination log, as the controller reads it back.
import { COMPOSE_EXIT, exitCodeFor, parseComposeOutcome, TERMINATION_MESSAGE_LIMIT, terminationMessage } from '../../../operator/src/source/outcome.js';

describe('termination message', () => {
  test('success and failure round-trip; anything else is not ours', () => {
    const success = { commit: 'a'.repeat(40), sha256: 'b'.repeat(64), bytes: 10, files: 2 };
    expect(parseComposeOutcome(terminationMessage(success))).toEqual(success);
    expect(parseComposeOutcome(terminationMessage({ sha256: 'c'.repeat(64), bytes: 1, files: 0 }))).toEqual({ sha256: 'c'.repeat(64), bytes: 1, files: 0 });
    const failure = { reason: 'AuthFailed' as const, message: 'git fetch failed: Permission denied (publickey).' };
    expect(parseComposeOutcome(terminationMessage(failure))).toEqual(failure);
    expect(parseComposeOutcome('Error: something')).toBeNull();
    expect(parseComposeOutcome('{"reason":"Nope","message":"x"}')).toBeNull();
  });

  test('a long message is cut to fit 4096 bytes, whole characters only', () => {
    const message = 'é"\n'.repeat(5000);
    const line = terminationMessage({ reason: 'SourceUnavailable', message });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(TERMINATION_MESSAGE_LIMIT);
    expect(Buffer.byteLength(line)).toBeGreaterThan(TERMINATION_MESSAGE_LIMIT - 8);
    const parsed = parseComposeOutcome(line);
    expect(parsed && 'message' in parsed && parsed.message.endsWith('…')).toBe(true);
  });

  test('exit codes: 3 for a classified failure of the source, 1 otherwise', () => {
    expect(exitCodeFor('HostKeyMismatch')).toBe(COMPOSE_EXIT.source);
    expect(exitCodeFor('InvalidSource')).toBe(3);
    expect(exitCodeFor('ComposeFailed')).toBe(1);
  });
});
