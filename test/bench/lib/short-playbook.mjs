// The private data dir for the `pipeline` case: a few debug tasks on localhost, so the
// measured time is start-up and plumbing rather than work.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from './env.mjs';

export const SHORT_PLAYBOOK = 'short.yml';

/** @returns {string} a fresh copy of the dir under the cache dir (`copy` tells copies apart) */
export function shortPlaybookDir(copy = 'template') {
  const pdd = path.join(cacheDir, 'pipeline', copy);
  rmSync(pdd, { recursive: true, force: true });
  mkdirSync(path.join(pdd, 'project'), { recursive: true });
  mkdirSync(path.join(pdd, 'inventory'));
  // The interpreter is pinned so neither tool pays (or skips) interpreter discovery.
  writeFileSync(path.join(pdd, 'inventory', 'hosts'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  writeFileSync(
    path.join(pdd, 'project', SHORT_PLAYBOOK),
    [
      '- hosts: localhost',
      '  gather_facts: false',
      '  tasks:',
      ...[1, 2, 3, 4].flatMap((index) => [`    - name: step ${index}`, '      ansible.builtin.debug:', `        msg: "step ${index} of 4"`]),
      '',
    ].join('\n'),
  );
  return pdd;
}
