/**
 * Builders for hostile and malformed inputs. Archives are made by Python's own
 * zipfile module, which (unlike our packer) writes whatever names and modes it
 * is told to, as an attacker's tool would.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, lstatSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ZipMember {
  name: string;
  /** File content; for a symlink, its target. */
  data?: string;
  /** Content made of this many zero bytes (compresses ~1000:1). */
  zeros?: number;
  /** Full st_mode (type + permissions), e.g. 0o120777 for a symlink. */
  mode?: number;
  /** Uncompressed size the central directory declares instead of the real one (a lying archive; below 0xFFFFFFFF). */
  declaredSize?: number;
}

const PY_MAKE_ZIP = `
import json, struct, sys, zipfile
spec = json.load(sys.stdin)
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for m in spec:
        info = zipfile.ZipInfo(m["name"])
        info.create_system = 3
        info.external_attr = (m.get("mode") or 0o100644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        data = b"\\0" * m["zeros"] if "zeros" in m else m.get("data", "").encode()
        z.writestr(info, data)
lies = {m["name"].encode(): m["declaredSize"] for m in spec if "declaredSize" in m}
if lies:
    raw = bytearray(open(sys.argv[1], "rb").read())
    eocd = raw.rfind(b"PK\\x05\\x06")
    count, _, at = struct.unpack_from("<HII", raw, eocd + 10)
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", raw, at + 28)
        name = bytes(raw[at + 46 : at + 46 + name_len])
        if name in lies:
            struct.pack_into("<I", raw, at + 24, lies[name])
        at += 46 + name_len + extra_len + comment_len
    open(sys.argv[1], "wb").write(raw)
`;

export function makeZip(members: ZipMember[]): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ajo-hostile-'));
  try {
    const file = path.join(dir, 'x.zip');
    execFileSync('/usr/bin/python3', ['-c', PY_MAKE_ZIP, file], { input: JSON.stringify(members) });
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function zipFrame(zip: Buffer, announced = zip.length): string {
  return `{"zipfile": ${announced}}\n${zip.toString('base64')}`;
}

export const JOB_KWARGS = '{"kwargs": {"ident": "hostile", "playbook": "site.yml"}}\n';
export const EOF = '{"eof": true}\n';

/** Every path below `dir`, relative, with a trailing / on directories. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      const info = lstatSync(path.join(dir, child));
      out.push(info.isDirectory() ? `${child}/` : child);
      if (info.isDirectory()) walk(child);
    }
  };
  walk('');
  return out;
}
