/**
 * The JSON merge patch (RFC 7386) that turns one JSON document into another: what changed,
 * with null for each member that went away. Nested objects are patched member by member;
 * arrays and scalars are replaced whole, as merge patch applies them.
 */
type JsonRecord = Record<string, unknown>;

const isRecord = (value: unknown): value is JsonRecord => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Deep equality of JSON values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a).filter((key) => a[key] !== undefined);
    const otherKeys = Object.keys(b).filter((key) => b[key] !== undefined);
    return keys.length === otherKeys.length && keys.every((key) => sameJson(a[key], b[key]));
  }
  return false;
}

/**
 * The members of `after` that differ from `before`, and null for those only `before` has.
 * Members that are undefined count as absent. Applying the result to `before` gives `after`.
 */
export function mergePatchBetween(before: JsonRecord, after: JsonRecord): JsonRecord {
  const patch: JsonRecord = {};
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const old = before[key];
    if (sameJson(old, value)) continue;
    patch[key] = isRecord(old) && isRecord(value) ? mergePatchBetween(old, value) : value;
  }
  for (const [key, value] of Object.entries(before)) {
    if (value !== undefined && after[key] === undefined) patch[key] = null;
  }
  return patch;
}
