/**
 * `ajo launch TEMPLATE`: creates an AnsibleJob from an AnsibleJobTemplate, with launch-time
 * extra vars, limit and tags (the template says which it accepts; the operator refuses the
 * rest with a Failed condition), and optionally follows it like `ajo submit --wait`.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { API_VERSION, KIND, MAX_JOB_NAME_LENGTH, type AnsibleJobSpecInput, type JobOverrides } from '../api/ansible-job.js';
import { UsageError } from './errors.js';

/**
 * One `-e` value, as ansible-playbook reads it: `@file` (YAML or JSON mapping), a JSON or
 * YAML mapping written inline, or space-separated `key=value` pairs (values stay strings).
 */
export async function parseExtraVarsArgument(value: string, readText: (file: string) => Promise<string> = (file) => readFile(file, 'utf8')): Promise<Record<string, unknown>> {
  const mapping = (text: string, what: string) => {
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (error) {
      throw new UsageError(`-e ${what}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`-e ${what}: must be a mapping of variables`);
    return parsed as Record<string, unknown>;
  };
  if (value.startsWith('@')) {
    const file = value.slice(1);
    let text: string;
    try {
      text = await readText(file);
    } catch (error) {
      throw new UsageError(`-e @${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
    return mapping(text, `@${file}`);
  }
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return mapping(trimmed, 'value');
  const vars: Record<string, unknown> = {};
  for (const pair of trimmed.split(/\s+/).filter(Boolean)) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`-e takes key=value, @file or a JSON/YAML mapping, got '${pair}'`);
    vars[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return vars;
}

/** A job name from the template's: `<template>-<5 random hex>`, within the job name limit. */
export function launchedJobName(template: string): string {
  return `${template.slice(0, MAX_JOB_NAME_LENGTH - 6).replace(/[-.]+$/, '')}-${randomBytes(3).toString('hex').slice(0, 5)}`;
}

export interface LaunchFlags {
  extraVars?: string[];
  limit?: string;
  tags?: string;
  name?: string;
  queue?: string;
  wait?: boolean;
}

/** The AnsibleJob `ajo launch` creates. */
export async function launchManifest(template: string, namespace: string, flags: LaunchFlags) {
  let extraVars: Record<string, unknown> | undefined;
  for (const value of flags.extraVars ?? []) extraVars = { ...(extraVars ?? {}), ...(await parseExtraVarsArgument(value)) };
  const tags = flags.tags?.split(',').map((tag) => tag.trim()).filter(Boolean);
  const overrides: JobOverrides = {
    ...(extraVars ? { extraVars } : {}),
    ...(flags.limit ? { limit: flags.limit } : {}),
    ...(tags?.length ? { tags } : {}),
  };
  const spec: AnsibleJobSpecInput = {
    templateRef: { name: template },
    ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
    ...(flags.queue ? { queue: flags.queue } : {}),
  };
  const name = flags.name ?? launchedJobName(template);
  if (name.length > MAX_JOB_NAME_LENGTH || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    throw new UsageError(`--name must be a DNS label of at most ${MAX_JOB_NAME_LENGTH} characters`);
  }
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, spec };
}
