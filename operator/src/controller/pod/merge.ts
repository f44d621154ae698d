/**
 * Merges a user's podTemplate over the default worker pod, the way a strategic merge patch
 * treats pods: objects merge key by key, and lists of named items (containers, volumes,
 * volumeMounts, env, ports) merge item by item on `name`. Other lists are replaced.
 */
import type { JsonObject, JsonValue } from './pod-types.js';

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNamedList(list: JsonValue[]): list is (JsonObject & { name: string })[] {
  return list.every((item) => isJsonObject(item) && typeof item.name === 'string');
}

function mergeNamedLists(base: (JsonObject & { name: string })[], overlay: (JsonObject & { name: string })[]): JsonObject[] {
  const merged = base.map((item) => {
    const override = overlay.find((candidate) => candidate.name === item.name);
    return override ? mergeOver(item, override) : item;
  });
  const added = overlay.filter((item) => !base.some((candidate) => candidate.name === item.name));
  return [...merged, ...added];
}

export function mergeValue(base: JsonValue | undefined, overlay: JsonValue): JsonValue {
  if (isJsonObject(base) && isJsonObject(overlay)) return mergeOver(base, overlay);
  if (Array.isArray(base) && Array.isArray(overlay) && isNamedList(base) && isNamedList(overlay)) {
    return mergeNamedLists(base, overlay);
  }
  return overlay;
}

/** Returns a new object; neither input is modified. A `null` in the overlay removes the key. */
export function mergeOver<T extends JsonObject>(base: T, overlay: JsonObject): T {
  const result: JsonObject = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    if (value === null) delete result[key];
    else result[key] = mergeValue(result[key], value);
  }
  return result as T;
}
