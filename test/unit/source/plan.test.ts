// The pure half of `ajo compose`: env files, run options, paths and requirements from a Source.
import { Source, type SourceInput } from '../../../operator/src/api/source.js';
import { ComposeError } from '../../../operator/src/source/errors.js';
import {
  cmdlineFor,
  describeRef,
  insideRoot,
  mergeExtraVars,
  normalizeRelative,
  parseVarsDocument,
  passwordsFor,
  PASSWORD_PROMPTS,
  planDataDirFiles,
  requirementsFilesFor,
  requirementsKinds,
  runOptionsFor,
  type DataRef,
  type ReadData,
} from '../../../operator/src/source/plan.js';

const source = (input: SourceInput): Source => Source.parse(input);
const inline = { project: { inline: [{ path: 'site.yml', content: '- hosts: all\n' }] } };

/** A stand-in for the mounted volumes: keys as `Kind/name/key`. */
function volumes(data: Record<string, string>): ReadData {
  return (ref: DataRef) => {
    const value = data[`${ref.kind}/${ref.name}/${ref.key}`];
    if (value === undefined) throw new ComposeError('InvalidSource', `${describeRef(ref)} does not exist`);
    return Buffer.from(value);
  };
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ComposeError) return `${err.reason}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('extra vars', () => {
  test('extraVarsFrom merge in order, YAML and JSON alike, then extraVars wins', () => {
    const s = source({
      ...inline,
      playbook: 'site.yml',
      extraVarsFrom: [{ configMap: { name: 'base', key: 'vars.yml' } }, { secret: { name: 'creds', key: 'vars.json' } }],
      extraVars: { region: 'eu', nested: { a: 1 } },
    });
    const read = volumes({
      'ConfigMap/base/vars.yml': 'region: us\nsize: 3\nenabled: yes\nwhen: 2024-01-02\n',
      'Secret/creds/vars.json': '{"size": 5, "token": "t0k"}',
    });
    expect(mergeExtraVars(s, read)).toEqual({ region: 'eu', size: 5, enabled: true, when: '2024-01-02', token: 't0k', nested: { a: 1 } });
  });

  test('a document that is not a mapping, or not YAML, is InvalidSource naming where it came from', () => {
    expect(reasonOf(() => parseVarsDocument('extra vars from ConfigMap v key k', '- a\n- b\n'))).toBe(
      'InvalidSource: extra vars from ConfigMap v key k must be a mapping of variables, not a list',
    );
    expect(reasonOf(() => parseVarsDocument('x', 'just text'))).toBe('InvalidSource: x must be a mapping of variables, not a string');
    expect(reasonOf(() => parseVarsDocument('x', 'a: [1, 2'))).toMatch(/^InvalidSource: x is not YAML or JSON: /);
    expect(reasonOf(() => parseVarsDocument('x', 'a: 1\na: 2\n'))).toMatch(/^InvalidSource: x is not YAML or JSON: .*unique/i);
    expect(parseVarsDocument('x', '')).toEqual({});
  });

  test('a missing key is InvalidSource naming the object and key', () => {
    const s = source({ ...inline, playbook: 'site.yml', extraVarsFrom: [{ secret: { name: 'gone', key: 'vars' } }] });
    expect(reasonOf(() => mergeExtraVars(s, volumes({})))).toBe('InvalidSource: Secret gone key vars does not exist');
  });
});

describe('cmdline and passwords', () => {
  test('check, diff and the ask flags of the passwords given', () => {
    expect(cmdlineFor(source({ ...inline, playbook: 'site.yml' }))).toBeUndefined();
    const s = source({
      ...inline,
      playbook: 'site.yml',
      check: true,
      diff: true,
      credentials: { vaultPassword: { name: 'v', key: 'password' }, becomePassword: { name: 'b', key: 'pw' }, connectionPassword: { name: 'c', key: 'pw' } },
    });
    expect(cmdlineFor(s)).toBe('--check --diff --ask-vault-pass --ask-become-pass --ask-pass');
  });

  test("env/passwords maps ansible's prompts to the Secret values, trailing newlines dropped", () => {
    const s = source({ ...inline, playbook: 'site.yml', credentials: { vaultPassword: { name: 'v', key: 'password' }, becomePassword: { name: 'b', key: 'pw' } } });
    const passwords = passwordsFor(s, volumes({ 'Secret/v/password': 'open sesame\n', 'Secret/b/pw': 'sudo!\r\n' }));
    expect(passwords).toEqual({ '^Vault password:\\s*?$': 'open sesame', '^BECOME password.*:\\s*?$': 'sudo!' });
  });

  test("the prompt patterns match what ansible prints (--ask-vault-pass, -K, -k, -k with -K)", () => {
    const matches = (pattern: string, text: string) => new RegExp(pattern.replace(/\\s\*\?\$/, '\\s*?$'), 'm').test(text);
    expect(matches(PASSWORD_PROMPTS.vaultPassword.pattern, 'Vault password: ')).toBe(true);
    expect(matches(PASSWORD_PROMPTS.becomePassword.pattern, 'BECOME password: ')).toBe(true);
    expect(matches(PASSWORD_PROMPTS.becomePassword.pattern, 'BECOME password[defaults to SSH password]: ')).toBe(true);
    expect(matches(PASSWORD_PROMPTS.connectionPassword.pattern, 'SSH password: ')).toBe(true);
    expect(matches(PASSWORD_PROMPTS.connectionPassword.pattern, 'BECOME password[defaults to SSH password]: ')).toBe(false);
    expect(matches(PASSWORD_PROMPTS.vaultPassword.pattern, 'New Vault password: ')).toBe(false);
  });
});

describe('the private data dir files', () => {
  test('every env file, the ssh key and a Secret inventory, secrets with mode 0600', () => {
    const s = source({
      ...inline,
      playbook: 'site.yml',
      inventory: { secret: { name: 'inv', key: 'hosts.ini' } },
      extraVars: { a: 1 },
      env: { FOO: 'bar' },
      check: true,
      credentials: { sshKeySecret: 'key', vaultPassword: { name: 'v', key: 'password' } },
    });
    const files = planDataDirFiles(s, volumes({ 'Secret/inv/hosts.ini': '[web]\nh1\n', 'Secret/key/ssh-privatekey': '-----BEGIN KEY-----\nabc\n-----END KEY-----', 'Secret/v/password': 'pw' }));
    const byPath = Object.fromEntries(files.map((f) => [f.path, { content: f.content.toString(), mode: f.mode.toString(8) }]));
    expect(Object.keys(byPath)).toEqual(['env/extravars', 'env/envvars', 'env/cmdline', 'env/passwords', 'env/ssh_key', 'inventory/hosts']);
    expect(JSON.parse(byPath['env/extravars']!.content)).toEqual({ a: 1 });
    expect(JSON.parse(byPath['env/envvars']!.content)).toEqual({ FOO: 'bar' });
    expect(byPath['env/cmdline']!.content).toBe('--check --ask-vault-pass');
    expect(byPath['env/ssh_key']!.content).toBe('-----BEGIN KEY-----\nabc\n-----END KEY-----\n');
    expect(byPath['inventory/hosts']).toEqual({ content: '[web]\nh1\n', mode: '600' });
    for (const file of ['env/extravars', 'env/passwords', 'env/ssh_key']) expect(byPath[file]!.mode).toBe('600');
  });

  test('an inline inventory becomes inventory/hosts; a path inventory writes nothing', () => {
    const inlineInv = planDataDirFiles(source({ ...inline, playbook: 'site.yml', inventory: { inline: 'all:\n  hosts:\n    h1:' } }), volumes({}));
    expect(inlineInv.map((f) => [f.path, f.content.toString()])).toEqual([['inventory/hosts', 'all:\n  hosts:\n    h1:\n']]);
    expect(planDataDirFiles(source({ ...inline, playbook: 'site.yml', inventory: { path: 'inv/hosts' } }), volumes({}))).toEqual([]);
  });

  test('an ssh-auth Secret without ssh-privatekey is InvalidSource naming it', () => {
    const s = source({ ...inline, playbook: 'site.yml', credentials: { sshKeySecret: 'key' } });
    expect(reasonOf(() => planDataDirFiles(s, volumes({})))).toBe('InvalidSource: Secret key key ssh-privatekey does not exist');
  });
});

describe('run options', () => {
  test('a playbook with limit, verbosity, forks, tags, skip tags and a project inventory', () => {
    const s = source({ ...inline, playbook: './site.yml', inventory: { path: 'inv/' }, limit: 'web', verbosity: 2, forks: 7, tags: ['a', 'b'], skipTags: ['c'] });
    expect(runOptionsFor(s)).toEqual({ playbook: 'site.yml', inventory: 'project/inv', limit: 'web', verbosity: 2, forks: 7, tags: 'a,b', skipTags: 'c' });
  });

  test('an ad hoc module with its args and hosts (all by default)', () => {
    expect(runOptionsFor(source({ module: { name: 'ansible.builtin.ping' } }))).toEqual({ module: 'ansible.builtin.ping', hostPattern: 'all' });
    expect(runOptionsFor(source({ module: { name: 'command', args: 'uptime', hosts: 'web' } }))).toEqual({ module: 'command', moduleArgs: 'uptime', hostPattern: 'web' });
  });
});

describe('paths', () => {
  test('relative paths are normalized; escapes and absolute paths are InvalidSource', () => {
    expect(normalizeRelative('./a//b/')).toBe('a/b');
    expect(insideRoot('/w/project', 'roles/x/../y.yml')).toBe('/w/project/roles/y.yml');
    expect(reasonOf(() => normalizeRelative('a/../../etc/passwd', 'playbook'))).toBe("InvalidSource: playbook 'a/../../etc/passwd' must stay inside the project");
    expect(reasonOf(() => normalizeRelative('/etc/passwd'))).toBe("InvalidSource: path '/etc/passwd' must stay inside the project");
    expect(reasonOf(() => normalizeRelative('a/..'))).toBe("InvalidSource: path 'a/..' names no file");
  });
});

describe('requirements', () => {
  test('the usual three when present, or the one named (which must exist)', () => {
    const has = new Set(['requirements.yml', 'collections/requirements.yml', 'deps.yml']);
    const exists = (relative: string) => has.has(relative);
    expect(requirementsFilesFor(source({ ...inline, playbook: 'site.yml' }), exists)).toEqual(['requirements.yml', 'collections/requirements.yml']);
    expect(requirementsFilesFor(source({ ...inline, playbook: 'site.yml', requirements: 'deps.yml' }), exists)).toEqual(['deps.yml']);
    expect(reasonOf(() => requirementsFilesFor(source({ ...inline, playbook: 'site.yml', requirements: 'nope.yml' }), exists))).toBe(
      "InvalidSource: requirements file 'nope.yml' is not in the project",
    );
  });

  test('a list is roles; a mapping says roles and/or collections', () => {
    expect(requirementsKinds('r', '- src: git+file:///r.git\n')).toEqual({ roles: true, collections: false });
    expect(requirementsKinds('r', 'collections:\n  - name: git+file:///c.git\n    type: git\n')).toEqual({ roles: false, collections: true });
    expect(requirementsKinds('r', 'roles: []\ncollections: [{name: x}]\n')).toEqual({ roles: false, collections: true });
    expect(requirementsKinds('r', '')).toEqual({ roles: false, collections: false });
    expect(reasonOf(() => requirementsKinds('r', '42'))).toMatch(/^InvalidSource: r must be a list of roles/);
  });
});
