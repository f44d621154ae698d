/**
 * Reading ConfigMaps and Secrets from their mounted volumes: `<root>/<name>/<key>`, where
 * the kubelet makes each key a symlink into a `..data` directory it swaps atomically. Reads
 * go through those links but never out of the object's own directory.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { invalidSource } from './errors.js';
import { describeRef, type DataRef } from './plan.js';

export interface VolumeRoots {
  configMaps: string;
  secrets: string;
}

function objectDir(roots: VolumeRoots, kind: DataRef['kind'], name: string): string {
  const dir = path.join(kind === 'ConfigMap' ? roots.configMaps : roots.secrets, name);
  let info;
  try {
    info = statSync(dir);
  } catch {
    throw invalidSource(`${kind} ${name} is not mounted (no ${dir}): does it exist in the namespace?`);
  }
  if (!info.isDirectory()) throw invalidSource(`${kind} ${name} is not mounted as a directory at ${dir}`);
  return dir;
}

/** The bytes of one key; InvalidSource naming the object and key when it is missing. */
export function readKey(roots: VolumeRoots, ref: DataRef): Buffer {
  const dir = objectDir(roots, ref.kind, ref.name);
  if (ref.key.startsWith('..') || ref.key.includes('/')) throw invalidSource(`${describeRef(ref)}: not a valid key`);
  const file = path.join(dir, ref.key);
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw invalidSource(`${describeRef(ref)} does not exist (the ${ref.kind} has ${keysOf(dir).join(', ') || 'no keys'})`);
  }
  const realDir = realpathSync(dir);
  if (!real.startsWith(realDir + path.sep)) throw invalidSource(`${describeRef(ref)} points outside its volume`);
  if (!statSync(real).isFile()) throw invalidSource(`${describeRef(ref)} is not a file`);
  return readFileSync(real);
}

/** The keys of a mounted object, without the kubelet's `..data` and timestamped directories. */
export function keysOf(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('..'))
    .sort();
}

/** Every key of a mounted ConfigMap (for a project without items). */
export function configMapKeys(roots: VolumeRoots, name: string): string[] {
  return keysOf(objectDir(roots, 'ConfigMap', name));
}
