/**
 * Runs transmit | worker | process with each stage taken from ajo or from the
 * real ansible-runner, and reduces the outcome to what must agree between
 * implementations: rc, status, the event sequence with volatile values
 * (uuids, times, pids, jids, temp paths) removed, and the artifact file set.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';
import type { TempDirs } from '../helpers/temp.js';

export type Impl = 'ajo' | 'runner';
export interface Combo {
  transmit: Impl;
  worker: Impl;
  process: Impl;
}

export const ALL_COMBOS: Combo[] = (['ajo', 'runner'] as Impl[]).flatMap((transmit) =>
  (['ajo', 'runner'] as Impl[]).flatMap((worker) => (['ajo', 'runner'] as Impl[]).map((process) => ({ transmit, worker, process }))),
);

export const comboName = (c: Combo): string => `${c.transmit}|${c.worker}|${c.process}`;

export const AJO = path.join(repoRoot, 'operator', 'dist', 'cli', 'main.js');
export const RUNNER = '/usr/bin/ansible-runner';

/** The fixtures were recorded with this environment; the worker copies it into the stream. */
export const SCRUBBED_ENV: NodeJS.ProcessEnv = {
  HOME: process.env.HOME ?? '/root',
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
};

const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function stage(impl: Impl, args: string[]): string {
  const program = impl === 'ajo' ? `${sh(process.execPath)} ${sh(AJO)}` : RUNNER;
  return [program, ...args.map(sh)].join(' ');
}

export interface PipelineInput {
  /** Private data dir (copied, never modified). */
  dataDir: string;
  /** Sent as -p; without it, transmitArgs say what to run (-m, -r). */
  playbook?: string;
  /** Extra transmit flags that both CLIs accept. */
  transmitArgs?: string[];
}

export interface PipelineOutcome {
  combo: Combo;
  rc: string | null;
  status: string | null;
  events: NormalisedEvent[];
  artifactFiles: string[];
  stdoutArtifact: string | null;
  printed: string;
  exitCodes: number[];
  outDir: string;
  stderr: string;
}

export interface NormalisedEvent {
  event: string;
  counter: number;
  stdout: string;
  event_data: unknown;
}

/** A copy of the private data dir `src`, into `dest` (an empty directory) or a fresh temp dir the caller removes. */
export function copyDataDir(src: string, dest = mkdtempSync(path.join(os.tmpdir(), 'ajo-conf-pdd-'))): string {
  cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
  return dest;
}

/** The data dir's copy and the output dir are made by `tmp`, so the test file that owns it removes them. */
export function runPipeline(combo: Combo, input: PipelineInput, tmp: TempDirs): PipelineOutcome {
  const dataDir = copyDataDir(input.dataDir, tmp());
  const outDir = tmp();
  const pipeline = [
    stage(combo.transmit, ['transmit', dataDir, ...(input.playbook ? ['-p', input.playbook] : []), ...(input.transmitArgs ?? [])]),
    stage(combo.worker, ['worker']),
    stage(combo.process, ['process', outDir]),
  ].join(' | ');
  const result = spawnSync('/bin/bash', ['-c', `${pipeline}; echo "\${PIPESTATUS[@]}" >&3`], {
    env: SCRUBBED_ENV,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    maxBuffer: 512 * 1024 * 1024,
    timeout: 300_000,
  });
  const fd3 = (result.output[3] as Buffer | null)?.toString() ?? '';
  const artifacts = path.join(outDir, 'artifacts');
  const read = (name: string): string | null => {
    const file = path.join(artifacts, name);
    return existsSync(file) ? readFileSync(file, 'utf8') : null;
  };
  return {
    combo,
    rc: read('rc'),
    status: read('status'),
    events: readEvents(path.join(artifacts, 'job_events')),
    artifactFiles: existsSync(artifacts) ? listFiles(artifacts).filter((f) => !f.startsWith('job_events/')) : [],
    stdoutArtifact: read('stdout'),
    printed: result.stdout.toString('utf8'),
    exitCodes: fd3.trim().split(/\s+/).filter(Boolean).map(Number),
    outDir,
    stderr: result.stderr.toString('utf8'),
  };
}

export function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const child = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(dir, child)).isDirectory()) out.push(`${child}/`, ...listFiles(dir, child));
    else out.push(child);
  }
  return out;
}

export function readEvents(jobEventsDir: string): NormalisedEvent[] {
  if (!existsSync(jobEventsDir)) return [];
  return readdirSync(jobEventsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(jobEventsDir, f), 'utf8')) as Record<string, unknown>)
    .sort((a, b) => (a.counter as number) - (b.counter as number))
    .map(normaliseEvent);
}

const VOLATILE_KEYS = new Set([
  'uuid',
  'parent_uuid',
  'playbook_uuid',
  'play_uuid',
  'task_uuid',
  'created',
  'pid',
  'start',
  'end',
  'duration',
  'delta',
  'runner_ident',
  'ansible_job_id',
  'jid',
  'results_file',
  'child_pid',
]);

/** Text with everything that differs between two runs of the same job replaced by a token. */
export function normaliseText(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(_\d+)?/g, '<UUID>')
    .replace(/\bj\d+\.\d+\b/g, '<JID>')
    .replace(/\/tmp\/(tmp[a-z0-9_]{8}|ajo-worker-[A-Za-z0-9]{6})/g, '<PDD>')
    .replace(/ansible-(local|tmp)-[0-9.]+[-_][0-9A-Za-z_]+/g, '<ANSIBLE_TMP>')
    .replace(/\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?/g, '<TIME>')
    .replace(/\b\d+:\d{2}:\d{2}\.\d+\b/g, '<DELTA>');
}

function normaliseValue(value: unknown): unknown {
  if (typeof value === 'string') return normaliseText(value);
  if (Array.isArray(value)) return value.map(normaliseValue);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!VOLATILE_KEYS.has(k)) out[k] = normaliseValue(v);
    return out;
  }
  return value;
}

/** -r runs a playbook that transmit names with 32 random hex digits. */
const GENERATED_PLAYBOOK = /^[0-9a-f]{32}$/;

function normaliseEvent(raw: Record<string, unknown>): NormalisedEvent {
  const data = raw.event_data as Record<string, unknown> | undefined;
  const eventData = data && typeof data.playbook === 'string' && GENERATED_PLAYBOOK.test(data.playbook) ? { ...data, playbook: '<GENERATED PLAYBOOK>' } : data;
  return {
    event: String(raw.event),
    counter: raw.counter as number,
    stdout: normaliseText(String(raw.stdout ?? '')),
    event_data: normaliseValue(eventData ?? null),
  };
}

export function pythonAvailable(): boolean {
  try {
    execFileSync(RUNNER, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
