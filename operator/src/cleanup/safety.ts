// Which glob matches a cleanup run must refuse to touch. ansible-runner only
// refuses matches that ARE one of a handful of system dirs, so `/etc/*` or
// `/var/*` pass its check; here the whole OS trees are off limits and the data
// roots and their direct children are protected. A pattern that names such a
// path is refused as a whole. A single match that is merely unsafe (a symlink,
// a path that leads outside the dir the pattern starts from) is not a reason
// to refuse the run: dirs.ts skips and reports it, so a periodic sweep keeps
// freeing space whatever one job left behind.
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { hasMagic } from './glob.js';

/** The list ansible-runner 2.3.1 protects (plus the tmp dir, added at runtime). */
const RUNNER_SYSTEM_DIRS = ['/', '/bin', '/dev', '/home', '/lib', '/mnt', '/proc', '/run', '/sys', '/usr', '/boot', '/etc', '/opt', '/sbin', '/var'];

/** Trees owned by the OS: nothing at or below them is ever a private data dir. */
const OS_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr'];

/** Roots whose direct children belong to users or services (/home/alice, /var/lib/dpkg, /opt/app). */
const DATA_ROOTS = ['/', '/home', '/mnt', '/opt', '/run', '/srv', '/var', '/var/lib', '/var/cache', '/var/log', '/var/spool', '/var/local', '/var/opt', '/var/mail'];

/** Never matched themselves (their contents may be): root's home and the service trees above. */
const EXTRA_EXACT = ['/root', ...DATA_ROOTS];

export type RefusalKind = 'system-path' | 'parent-segment';

export interface Refusal {
  kind: RefusalKind;
  /** Offending paths as the glob produced them. */
  paths: string[];
  /** The message printed to stderr before exiting 1. */
  message: string;
}

function resolveOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * A symlink that leads nowhere (missing target, loop). Nothing can be reached
 * through it and cleanup skips every symlink, so it is never a system folder,
 * even where its own path is one (TMPDIR naming a link whose dir was deleted).
 */
function isDanglingSymlink(p: string): boolean {
  if (lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() !== true) return false;
  try {
    statSync(p);
    return false;
  } catch {
    return true;
  }
}

function withResolved(dirs: readonly string[]): Set<string> {
  return new Set(dirs.flatMap((d) => [d, resolveOrSelf(d)]));
}

function isAncestorOrSelf(ancestor: string, p: string): boolean {
  if (ancestor === p) return true;
  const prefix = ancestor.endsWith('/') ? ancestor : `${ancestor}/`;
  return p.startsWith(prefix);
}

export interface ProtectedPaths {
  /** Exact paths a match may not be (system dirs, tmp dirs) - and none of their ancestors. */
  exact: Set<string>;
  osTrees: Set<string>;
  dataRoots: Set<string>;
}

export function protectedPaths(tempDir: string = tmpdir()): ProtectedPaths {
  const tempDirs = [...new Set([tempDir, '/tmp', '/var/tmp'])];
  return {
    exact: withResolved([...RUNNER_SYSTEM_DIRS, ...EXTRA_EXACT, ...tempDirs]),
    osTrees: withResolved(OS_TREES),
    dataRoots: withResolved(DATA_ROOTS),
  };
}

/** Why the resolved path `real` is a system path, or undefined when it is not one. */
export function systemPathReason(real: string, guard: ProtectedPaths): string | undefined {
  for (const p of guard.exact) {
    if (isAncestorOrSelf(real, p)) return real === p ? `is ${p}` : `is an ancestor of ${p}`;
  }
  for (const tree of guard.osTrees) {
    if (isAncestorOrSelf(tree, real)) return `is inside ${tree}`;
  }
  const parent = path.dirname(real);
  if (guard.dataRoots.has(parent)) return `is a direct child of ${parent}`;
  return undefined;
}

/** The directory a pattern starts from: its segments before the first wildcard. */
export function patternBase(pattern: string, cwd: string): string {
  const absolute = path.isAbsolute(pattern) ? pattern : path.join(cwd, pattern);
  const segments = absolute.split('/');
  const firstMagic = segments.findIndex((s) => hasMagic(s));
  // A literal pattern names the dir itself; its base is the parent.
  const literal = firstMagic === -1 ? segments.filter((s, i) => s !== '' || i === 0).slice(0, -1) : segments.slice(0, firstMagic);
  return path.resolve('/', ...literal);
}

/**
 * Where a match itself lives: its parent dir resolved, its own name not
 * followed. That is the entry a removal would unlink, whatever a symlink
 * there points at.
 */
export function matchLocation(match: string, cwd: string): string {
  const absolute = path.resolve(cwd, match);
  if (absolute === '/') return absolute;
  return path.join(resolveOrSelf(path.dirname(absolute)), path.basename(absolute));
}

/** The pattern's base with symlinks resolved: every match must be located strictly below it. */
export function resolvedBase(pattern: string, cwd: string): string {
  return resolveOrSelf(patternBase(pattern, cwd));
}

/** Why a match located at `location` is outside `base` (a hop through a symlinked dir), or undefined. */
export function outsideBaseReason(location: string, base: string): string | undefined {
  if (location === base) return `is the pattern's base ${base} itself`;
  if (!isAncestorOrSelf(base, location)) return `resolves to ${location}, outside ${base}`;
  return undefined;
}

const SAFETY_TRAILER = 'Refusing to continue for user system safety.';

/**
 * Check a pattern and its glob matches before anything is deleted: a pattern
 * that names a system path or contains a `..` segment is refused, and then
 * nothing is removed. A match counts as named by the pattern when it lies
 * below the pattern's (resolved) base; one reached through a symlinked dir
 * elsewhere is not named by it and is skipped by the caller instead.
 */
export function checkPattern(pattern: string, matches: readonly string[], cwd: string, guard: ProtectedPaths): Refusal | undefined {
  const base = resolvedBase(pattern, cwd);
  const named = matches.filter((m) => {
    if (isDanglingSymlink(path.resolve(cwd, m))) return false;
    const location = matchLocation(m, cwd);
    return outsideBaseReason(location, base) === undefined || location === base;
  });
  const bad = named.filter((m) => systemPathReason(matchLocation(m, cwd), guard) !== undefined);
  if (bad.length > 0) {
    // Same text as ansible-runner, which joins the paths with spaces.
    return { kind: 'system-path', paths: bad, message: `Provided pattern could result in deleting system folders:\n${bad.join(' ')}\n${SAFETY_TRAILER}` };
  }
  if (pattern.split('/').includes('..')) {
    return {
      kind: 'parent-segment',
      paths: [pattern],
      message: `Provided pattern contains a '..' path segment: ${pattern}\n${SAFETY_TRAILER}`,
    };
  }
  return undefined;
}
