/**
 * Placing the project into `<pdd>/project`: inline files, ConfigMap keys, or a git checkout
 * (its sub path). Then the checks that need the files: every symlink stays inside the
 * project (the worker would refuse it later, and compose never reads through one), and the
 * playbook, inventory path and requirements are files of the project.
 */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Source } from '../api/source.js';
import { invalidSource } from './errors.js';
import { insideRoot, normalizeRelative, type ReadData } from './plan.js';
import { configMapKeys, type VolumeRoots } from './volumes.js';

/** Write one file of the project, making its directories; a path used twice is refused. */
function writeProjectFile(root: string, relative: string, content: string | Buffer, what: string): void {
  const file = insideRoot(root, relative, what);
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, content, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') throw invalidSource(`${what} '${relative}' clashes with another file of the project`);
    throw err;
  }
}

export function placeInlineProject(files: NonNullable<NonNullable<Source['project']>['inline']>, root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o755 });
  for (const file of files) writeProjectFile(root, file.path, file.content, 'inline file');
}

export function placeConfigMapProject(project: NonNullable<NonNullable<Source['project']>['configMap']>, roots: VolumeRoots, read: ReadData, root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const items = project.items ?? configMapKeys(roots, project.name).map((key) => ({ key, path: key }));
  if (items.length === 0) throw invalidSource(`ConfigMap ${project.name} has no keys to make a project of`);
  for (const item of items) writeProjectFile(root, item.path, read({ kind: 'ConfigMap', name: project.name, key: item.key }), `ConfigMap ${project.name} item`);
}

/**
 * Move the checkout (or its sub path) to `root`; the sub path must be a directory of the
 * repository, not a link out of it. git's own metadata is not part of the project.
 */
export function placeCheckout(checkout: string, subPath: string | undefined, root: string): void {
  let from = checkout;
  if (subPath !== undefined) {
    from = insideRoot(checkout, subPath, 'git path');
    let real: string;
    try {
      real = realpathSync(from);
    } catch {
      throw invalidSource(`git path '${subPath}' is not in the repository`);
    }
    const realCheckout = realpathSync(checkout);
    if (real !== realCheckout && !real.startsWith(realCheckout + path.sep)) throw invalidSource(`git path '${subPath}' leads out of the repository`);
    if (!statSync(real).isDirectory()) throw invalidSource(`git path '${subPath}' is not a directory`);
    if (lstatSync(from).isSymbolicLink()) from = real;
  }
  renameSync(from, root);
  rmSync(path.join(root, '.git'), { recursive: true, force: true });
}

/**
 * Every symlink below root must point inside it, by its text: absolute targets and targets
 * that climb out are refused. When all links are inside, no chain of them can lead out.
 */
export function checkSymlinks(root: string): void {
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isSymbolicLink()) {
        const target = readlinkSync(full);
        const resolved = path.resolve(dir, target);
        const relative = path.relative(root, resolved);
        if (path.isAbsolute(target) || relative === '..' || relative.startsWith('..' + path.sep) || path.isAbsolute(relative)) {
          throw invalidSource(`project file '${path.relative(root, full)}' is a symlink to '${target}', outside the project: refused`);
        }
      }
    }
  };
  walk(root);
}

/** A file (or directory, when allowed) of the project, found through links that stay inside it. */
export function projectEntry(root: string, relative: string, what: string, allowDirectory = false): string {
  const normalized = normalizeRelative(relative, what);
  const file = path.join(root, normalized);
  let info;
  try {
    info = statSync(file);
  } catch {
    throw invalidSource(`${what} '${relative}' is not in the project`);
  }
  if (!info.isFile() && !(allowDirectory && info.isDirectory())) throw invalidSource(`${what} '${relative}' is not a file${allowDirectory ? ' or directory' : ''} of the project`);
  return normalized;
}
