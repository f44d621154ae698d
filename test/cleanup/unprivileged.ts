// A user for whom permission bits are real, for the "unreadable entry" tests.
// Root reads a mode-000 dir anyway (CAP_DAC_OVERRIDE), so when the tests run as
// root the program under test runs as `nobody` instead; either way a probe
// checks, before any test relies on it, that the user really gets EACCES.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RunAs {
  uid: number;
  gid: number;
  /** For test titles and messages. */
  name: string;
}

/** `nobody` (65534) when we are root, else ourselves. */
function candidate(): RunAs {
  const uid = process.getuid?.() ?? -1;
  if (uid === 0) return { uid: 65534, gid: 65534, name: 'nobody (65534)' };
  return { uid, gid: process.getgid?.() ?? uid, name: `uid ${uid}` };
}

/** Give a test tree to the unprivileged user, so it may delete what it should. */
export function handOver(root: string, user: RunAs): void {
  const walk = (p: string) => {
    chownSync(p, user.uid, user.gid);
    for (const entry of readdirSync(p, { withFileTypes: true })) {
      const child = path.join(p, entry.name);
      if (entry.isDirectory()) walk(child);
      else chownSync(child, user.uid, user.gid);
    }
  };
  if (process.getuid?.() === 0) walk(root);
}

/**
 * The user to run as, or why there is none: spawns node as that user against a
 * mode-000 dir and requires EACCES.
 */
function probe(): { user: RunAs; skipReason: null } | { user: null; skipReason: string } {
  const user = candidate();
  const dir = mkdtempSync(path.join(tmpdir(), 'ajo-unreadable-probe-'));
  try {
    chmodSync(dir, 0o755);
    const locked = path.join(dir, 'locked');
    spawnSync('mkdir', ['-m', '000', locked]);
    handOver(dir, user);
    chmodSync(locked, 0o000);
    const r = spawnSync(process.execPath, ['-e', `try { require('fs').readdirSync(${JSON.stringify(locked)}); console.log('READ') } catch (e) { console.log(e.code) }`], {
      uid: user.uid,
      gid: user.gid,
      encoding: 'utf8',
    });
    const answer = (r.stdout ?? '').trim();
    if (r.error) return { user: null, skipReason: `cannot start node as ${user.name}: ${r.error.message}` };
    if (answer !== 'EACCES') return { user: null, skipReason: `${user.name} is not denied a mode-000 dir (got ${answer || r.stderr.trim() || `exit ${r.status}`}), so an unreadable dir cannot be made here` };
    return { user, skipReason: null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const unprivileged = probe();
