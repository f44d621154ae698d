/** The real programs tests check ajo against, and why a suite cannot run without them. */
import { spawnSync } from 'node:child_process';

/** How to ask each program whether it runs here. */
const PROBES = {
  python3: ['/usr/bin/python3', ['-c', '']],
  /** ansible-runner's Python package (OutputEventFilter, the awx_display callback), as scripts import it. */
  ansible_runner: ['/usr/bin/python3', ['-c', 'import ansible_runner']],
  /** The command the conformance tier compares ajo with. */
  'ansible-runner': ['/usr/bin/ansible-runner', ['--version']],
  'ansible-playbook': ['ansible-playbook', ['--version']],
  unzip: ['unzip', ['-v']],
  mkfifo: ['mkfifo', ['--version']],
  /** Debian's Lua, for the Argo CD health check (docs/argocd/); Argo CD itself embeds gopher-lua (Lua 5.1). */
  'lua5.4': ['lua5.4', ['-v']],
} as const satisfies Record<string, readonly [string, readonly string[]]>;

export type Program = keyof typeof PROBES;

/** Null when every program runs; otherwise which do not and why, as a skip reason. */
export function missingPrograms(...programs: Program[]): string | null {
  const missing = programs.flatMap((program) => {
    const [command, args] = PROBES[program];
    const probe = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (probe.status === 0) return [];
    const why = probe.error?.message ?? (probe.stderr.trim().split('\n').at(-1) || `exit ${probe.status}`);
    return [`${program} (${[command, ...args].join(' ')}: ${why})`];
  });
  return missing.length === 0 ? null : `needs ${missing.join(', ')}`;
}
