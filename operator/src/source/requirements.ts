/**
 * Roles and collections from the project's requirements files, installed with ansible-galaxy
 * into project/roles and project/collections, where ansible finds them beside a playbook at
 * the project's top without any configuration.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Source } from '../api/source.js';
import { ComposeError } from './errors.js';
import { gitMessage } from './git-errors.js';
import { requirementsFilesFor, requirementsKinds } from './plan.js';
import { projectEntry } from './project.js';
import { runProgram } from './run-program.js';

export interface RequirementsOptions {
  source: Source;
  projectRoot: string;
  workDir: string;
  /** The git environment (credentials, no prompts), so git sources in the file work like the project's. */
  env: NodeJS.ProcessEnv;
  deadline: number;
  signal?: AbortSignal;
}

/** Install what the requirements files list; returns the files used. Throws ComposeError. */
export async function installRequirements(options: RequirementsOptions): Promise<string[]> {
  const { source, projectRoot } = options;
  const isFile = (relative: string): boolean => {
    try {
      return statSync(path.join(projectRoot, relative)).isFile();
    } catch {
      return false;
    }
  };
  const files = requirementsFilesFor(source, isFile).map((file) => projectEntry(projectRoot, file, 'requirements'));
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    ANSIBLE_LOCAL_TEMP: path.join(options.workDir, 'tmp', 'ansible'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
  };
  for (const file of files) {
    const kinds = requirementsKinds(`requirements file '${file}'`, readFileSync(path.join(projectRoot, file), 'utf8'));
    if (kinds.roles) await galaxy(options, env, file, ['role', 'install', '-r', file, '-p', path.join(projectRoot, 'roles')]);
    if (kinds.collections) await galaxy(options, env, file, ['collection', 'install', '-r', file, '-p', path.join(projectRoot, 'collections')]);
  }
  return files;
}

async function galaxy(options: RequirementsOptions, env: NodeJS.ProcessEnv, file: string, args: string[]): Promise<void> {
  const what = `ansible-galaxy ${args[0]} install -r ${file}`;
  const remaining = options.deadline - Date.now();
  if (remaining <= 0) throw new ComposeError('RequirementsFailed', `${what}: the compose timed out before it could start`);
  const result = await runProgram('ansible-galaxy', args, { cwd: options.projectRoot, env, timeoutMs: remaining, signal: options.signal }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new ComposeError('RequirementsFailed', `${what}: ansible-galaxy is not installed`);
      throw err;
    },
  );
  if (result.timedOut) throw new ComposeError('RequirementsFailed', `${what} did not finish in time (killed)`);
  if (result.code !== 0) {
    const output = gitMessage([result.stderr, result.stdout].filter((text) => text.trim()).join('\n'), 16);
    throw new ComposeError('RequirementsFailed', `${what} failed (exit ${result.code ?? result.signal}): ${output}`);
  }
  if (!existsSync(path.join(options.projectRoot, args[0] === 'role' ? 'roles' : 'collections'))) {
    throw new ComposeError('RequirementsFailed', `${what} installed nothing`);
  }
}
