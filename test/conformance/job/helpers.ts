/**
 * Running the real `ansible-runner run` and ajo's runJob on copies of the same
 * private data dir, and normalising what legitimately differs between two runs
 * (uuids, times, pids, durations, async jids, temp paths).
 */
import { spawn } from 'node:child_process';
import { cpSync, chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runJob, type JobResult } from '../../../operator/src/job/index.js';
import type { RunnerKwargs } from '../../../operator/src/protocol/kwargs.js';
import { dumps, type PyObject } from '../../../operator/src/protocol/pyjson.js';

export const RUNNER = '/usr/bin/ansible-runner';
/** The scrubbed environment the fixtures were recorded with (fixtures README). */
export const SCRUBBED_ENV = { HOME: '/root', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

export function copyInput(source: string | null, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ajo-conf-'));
  if (source) cpSync(source, dir, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  chmodTree(dir);
  return dir;
}

/** Fixture files are read-only; the jobs write into their copies. */
function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chmodTree(p);
    else if (entry.isFile()) chmodSync(p, lstatSync(p).mode | 0o600);
  }
}

export interface RunnerOutcome {
  rc: number;
  status: string;
  events: string[];
  wallMs: number;
}

/** `ansible-runner run DIR -p PLAYBOOK --ident ID [extra]`; optionally SIGTERM after `cancelAfterMs`. */
export function runRealRunner(pdd: string, ident: string, args: string[], cancelAfterMs?: number): Promise<RunnerOutcome> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(RUNNER, ['run', pdd, '--ident', ident, ...args], { env: SCRUBBED_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = cancelAfterMs ? setTimeout(() => child.kill('SIGTERM'), cancelAfterMs) : null;
    child.on('error', reject);
    child.on('close', () => {
      if (timer) clearTimeout(timer);
      const artifactDir = path.join(pdd, 'artifacts', ident);
      if (!existsSync(path.join(artifactDir, 'rc'))) return reject(new Error(`ansible-runner left no rc: ${stderr}`));
      const eventsDir = path.join(artifactDir, 'job_events');
      const files = readdirSync(eventsDir).filter((n) => /^\d+-.*\.json$/.test(n));
      files.sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
      resolve({
        rc: Number(readFileSync(path.join(artifactDir, 'rc'), 'utf8')),
        status: readFileSync(path.join(artifactDir, 'status'), 'utf8'),
        events: files.map((f) => readFileSync(path.join(eventsDir, f), 'utf8')),
        wallMs: Date.now() - start,
      });
    });
  });
}

export interface AjoOutcome extends JobResult {
  events: string[];
  statuses: string[];
  wallMs: number;
}

export async function runAjo(pdd: string, kwargs: RunnerKwargs, signal?: AbortSignal): Promise<AjoOutcome> {
  const events: string[] = [];
  const statuses: string[] = [];
  const start = Date.now();
  const result = await runJob({
    privateDataDir: pdd,
    kwargs,
    signal,
    baseEnv: SCRUBBED_ENV,
    onEvent: (e: PyObject) => events.push(dumps(e)),
    onStatus: (s: PyObject) => statuses.push(dumps(s)),
  });
  return { ...result, events, statuses, wallMs: Date.now() - start };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(_\d+)?/g;
const TIME = /\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?/g;
const DELTA = /\b\d+:\d\d:\d\d\.\d+\b/g;
const JID = /\bj\d+\.\d+\b/g;
const LS_LINE = /[-dl][rwxsStT-]{9}\.?\s+\d+\s+\S+\s+\S+\s+\d+\s+\w{3}\s+\d+\s+[\d:]+\s+\S+/g;

function normaliseString(s: string, pdd: string): string {
  return s
    .split(pdd)
    .join('<PDD>')
    .replace(UUID, '<UUID>')
    .replace(TIME, '<TIME>')
    .replace(DELTA, '<DELTA>')
    .replace(JID, '<JID>')
    .replace(LS_LINE, '<LS>')
    .replace(/total \d+/g, 'total <N>')
    // ~/.ansible_async is shared by every job of the user (both sides run at once): how many files it lists varies.
    .replace(/<LS>(\n<LS>)*/g, '<LS...>')
    .replace(/"child_pid": \d+/g, '"child_pid": <PID>');
}

const TIMING_KEYS = ['pid', 'duration', 'child_pid'];

function normaliseValue(value: unknown, pdd: string, key = ''): unknown {
  if (TIMING_KEYS.includes(key)) return '<N>';
  if (typeof value === 'string') return normaliseString(value, pdd);
  if (Array.isArray(value)) return value.map((v) => normaliseValue(v, pdd));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normaliseValue(v, pdd, k)]));
  }
  return value;
}

/** One comparable string per event (key order kept, as JSON.parse keeps it for non-numeric keys). */
export function normaliseEvents(lines: string[], pdd: string): string[] {
  return lines.map((l) => JSON.stringify(normaliseValue(JSON.parse(l), pdd)));
}

/** Relative path, type and mode of every artifact, job_events/ contents left out (the worker writes none). */
export function artifactListing(artifactDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const relPath = path.join(rel, entry.name);
      const mode = (lstatSync(path.join(dir, entry.name)).mode & 0o777).toString(8);
      out.push(`${relPath}${entry.isDirectory() ? '/' : ''} ${mode}`);
      if (entry.isDirectory() && relPath !== 'job_events') walk(path.join(dir, entry.name), relPath);
    }
  };
  walk(artifactDir, '');
  return out.sort();
}

export function commandArtifact(artifactDir: string, pdd: string): string {
  return readFileSync(path.join(artifactDir, 'command'), 'utf8').split(pdd).join('<PDD>');
}
