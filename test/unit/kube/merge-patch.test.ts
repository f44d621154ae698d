// mergePatchBetween: the JSON merge patch from one document to another, checked against RFC 7386's application rules.
import { mergePatchBetween } from '../../../operator/src/kube/merge-patch.js';

type JsonRecord = Record<string, unknown>;

/** RFC 7386 MergePatch(target, patch), to check that a computed patch leads where it should. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: JsonRecord = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as JsonRecord) } : {};
  for (const [key, value] of Object.entries(patch as JsonRecord)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

describe('mergePatchBetween', () => {
  test('only changed members; null for removed ones; nothing for equal documents', () => {
    const before = { phase: 'Running', attempts: 1, podUID: 'p1', stdoutTail: 'x'.repeat(2048) };
    const after = { phase: 'Pending', attempts: 2, stdoutTail: 'x'.repeat(2048) };
    expect(mergePatchBetween(before, after)).toEqual({ phase: 'Pending', attempts: 2, podUID: null });
    expect(mergePatchBetween(before, { ...before })).toEqual({});
  });

  test('members the old document lacks are not touched: a lean cache cannot erase them', () => {
    expect(mergePatchBetween({ phase: 'Succeeded' }, { phase: 'Succeeded', lastRefreshRequest: 'r-1' })).toEqual({ lastRefreshRequest: 'r-1' });
  });

  test('nested objects are patched member by member, arrays replaced whole, key order ignored', () => {
    const before = { hostCounts: { ok: 1, failures: 2 }, conditions: [{ type: 'A', status: 'True' }], source: { bytes: 3, streamSha256: 's' } };
    const after = { hostCounts: { ok: 2 }, conditions: [{ type: 'A', status: 'False' }], source: { streamSha256: 's', bytes: 3 } };
    const patch = mergePatchBetween(before, after);
    expect(patch).toEqual({ hostCounts: { ok: 2, failures: null }, conditions: [{ type: 'A', status: 'False' }] });
    expect(applyMergePatch(before, patch)).toEqual(after);
  });

  test('undefined members count as absent', () => {
    expect(mergePatchBetween({ a: undefined, b: 1 }, { a: 1, b: undefined })).toEqual({ a: 1, b: null });
  });
});
