import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface TreeRemoval {
  /** Apparent size of every non-directory entry (what `du --apparent-size` counts). */
  bytes: number;
}

/**
 * Delete (or, with dryRun, only measure) a directory tree without following
 * symlinks - a link is unlinked, never entered - and without crossing into
 * another filesystem, so a bind mount inside a private data dir (a volume, a
 * host path) is reported instead of emptied.
 */
export async function removeTree(root: string, dryRun: boolean): Promise<TreeRemoval> {
  const rootStat = await lstat(root);
  if (!rootStat.isDirectory()) throw new Error(`${root} is not a directory`);
  const bytes = await walk(root, rootStat.dev, dryRun);
  return { bytes };
}

async function walk(dir: string, device: number, dryRun: boolean): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(dir)) {
    const entry = path.join(dir, name);
    const st = await lstat(entry);
    if (st.isDirectory()) {
      if (st.dev !== device) throw new Error(`refusing to cross a filesystem boundary at ${entry}`);
      bytes += await walk(entry, device, dryRun);
    } else {
      bytes += st.size;
      if (!dryRun) await unlink(entry);
    }
  }
  if (!dryRun) await rmdir(dir);
  return bytes;
}
