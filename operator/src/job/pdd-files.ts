/**
 * Reading and writing the private data dir's input files the way
 * ansible-runner's ArtifactLoader and dump_artifacts do.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { dumps, parsePyJson, type PyValue } from '../protocol/pyjson.js';

// The YAML parser is the costliest module a worker loads (~60 ms of start-up here), and
// most private data dirs have no env file that is not JSON: it is loaded on first use.
const require = createRequire(import.meta.url);
let yaml: typeof import('yaml') | undefined;
const parseYaml11 = (text: string): unknown => (yaml ??= require('yaml') as typeof import('yaml')).parse(text, { version: '1.1', mapAsMap: true });

/** `loader.abspath`: relative paths (and `~...`) are taken inside the private data dir. */
export function pddPath(privateDataDir: string, relative: string): string {
  return !relative.startsWith('/') || relative.startsWith('~') ? path.join(privateDataDir, relative) : relative;
}

export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `load_file(path, string_types)`: the raw text, or null when it cannot be read. */
export function loadText(privateDataDir: string, relative: string): string | null {
  const file = pddPath(privateDataDir, relative);
  if (!existsSync(file)) return null;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * `load_file(path, Mapping)`: JSON first, then YAML (PyYAML is YAML 1.1, so
 * `yes`/`no` are booleans); null unless the result is a mapping. Key order and
 * number spelling are kept, since values end up str()'d in the job env.
 */
export function loadMapping(privateDataDir: string, relative: string): Map<string, PyValue> | null {
  const text = loadText(privateDataDir, relative);
  if (text === null) return null;
  let parsed: unknown = null;
  try {
    parsed = parsePyJson(text.trim());
  } catch {
    parsed = null;
  }
  if (!isTruthyValue(parsed)) {
    try {
      parsed = fromYaml(parseYaml11(text));
    } catch {
      parsed = null;
    }
  }
  return parsed instanceof Map ? (parsed as Map<string, PyValue>) : null;
}

function fromYaml(value: unknown): PyValue {
  if (value instanceof Map) {
    const out = new Map<string, PyValue>();
    for (const [k, v] of value) out.set(String(k), fromYaml(v));
    return out;
  }
  if (Array.isArray(value)) return value.map(fromYaml);
  if (value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return value as PyValue;
}

function isTruthyValue(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === '' || value === 0) return false;
  if (value instanceof Map) return value.size > 0;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/** Plain JSON-ish object (zod output) as an ordered map. */
export function toPyObject(value: Record<string, unknown>): Map<string, PyValue> {
  return new Map(Object.entries(value) as [string, PyValue][]);
}

/**
 * `dump_artifact(obj, dir, name)`: leave an identical file alone, otherwise
 * write it and make it owner-read-only, as the runner does.
 */
export function dumpArtifact(content: string, dir: string, name: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, name);
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return file;
  if (existsSync(file)) chmodSync(file, 0o600);
  writeFileSync(file, content, { mode: 0o400 });
  chmodSync(file, 0o400);
  return file;
}

export function jsonForFile(value: unknown): string {
  return dumps(value);
}
