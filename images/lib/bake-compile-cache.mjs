// Fills Node's compile cache in an image at build time, so the first `ajo` of every pod starts
// warm (each container starts with the image's files only; a cold cache costs it the compile of
// every module it loads, and writing the cache at exit). Runs as the image's user inside the
// image's root (no shell needed: the operator image has none); the image sets NODE_COMPILE_CACHE
// to the same directory, which it then makes read-only.
//
//   node bake-compile-cache.mjs CACHE_DIR AJO_MAIN_JS
//
// The commands load the modules of transmit, worker, process, process --compose and the help of
// every command, and stop before anything needs a pty, a cluster or the network: the worker gets
// a job stream it refuses, process the worker's answer.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [cacheDir, ajo] = process.argv.slice(2);
if (!cacheDir || !ajo) {
  process.stderr.write('usage: node bake-compile-cache.mjs CACHE_DIR AJO_MAIN_JS\n');
  process.exit(2);
}
const scratch = mkdtempSync(path.join(tmpdir(), 'ajo-bake-'));
const env = { ...process.env, NODE_COMPILE_CACHE: cacheDir };

/** Runs `ajo ARGS`; `ok` lists the exit codes that mean the command got as far as it should. */
function ajoRun(args, { input, ok = [0] } = {}) {
  const result = spawnSync(process.execPath, [ajo, ...args], { env, input, cwd: scratch, maxBuffer: 64 << 20 });
  if (!ok.includes(result.status)) {
    throw new Error(`ajo ${args.join(' ')} exited ${result.status ?? result.signal}: ${String(result.stderr).slice(-2000)}`);
  }
  return result.stdout;
}

try {
  const pdd = path.join(scratch, 'pdd');
  mkdirSync(path.join(pdd, 'project'), { recursive: true });
  writeFileSync(path.join(pdd, 'project', 'bake.yml'), '- hosts: localhost\n  gather_facts: false\n  tasks: []\n');
  ajoRun(['--version']);
  ajoRun(['--help']);
  for (const command of ['transmit', 'worker', 'process', 'run', 'compose', 'operator']) ajoRun([command, '--help']);
  ajoRun(['transmit', pdd, '-p', 'bake.yml']);
  const refused = ajoRun(['worker'], { input: '{"kwargs": {"playbook": 0}}\n{"eof": true}\n', ok: [1] });
  ajoRun(['process', path.join(scratch, 'out')], { input: refused, ok: [1] });
  // The sidecar of a spec.source job: loads compose, then stops at the missing Source.
  const compose = ['--compose', path.join(scratch, 'no-source.json'), '--compose-configmaps', scratch, '--compose-secrets', scratch];
  ajoRun(['process', path.join(scratch, 'out'), ...compose, '--compose-work-dir', scratch, '--compose-output', path.join(scratch, 'job')], { ok: [2] });
  const entries = readdirSync(cacheDir, { recursive: true }).length;
  process.stdout.write(`compile cache: ${entries} entries in ${cacheDir}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
