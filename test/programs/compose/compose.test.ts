// `ajo compose` against real git repositories (file://), Kubernetes-style volumes and ansible-galaxy,
// with every stream then run by `ajo worker | ajo process`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';
import { composeSkipReason, git, kubeVolume, makeRepo, okTasks, runCompose, runStream, streamMembers } from './harness.js';

const tmp = tempDirs('ajo-compose-');

const LOCAL_INVENTORY = 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n';

/** A play that writes `text` (and a var from group_vars beside the inventory) into out_file. */
const writerPlay = (text: string): string => `- hosts: all
  gather_facts: false
  tasks:
    - name: write the marker
      ansible.builtin.copy:
        dest: "{{ out_file }}"
        content: "${text} {{ from_group_vars }}"
`;

describeOrSkip('ajo compose: git projects (file://)', composeSkipReason(), () => {
  let repo: ReturnType<typeof makeRepo>;
  beforeAll(() => {
    repo = makeRepo(tmp(), [
      {
        files: {
          'README.md': 'not part of the project\n',
          'ansible/site.yml': writerPlay('one'),
          'ansible/inv/hosts': LOCAL_INVENTORY,
          'ansible/inv/group_vars/all.yml': 'from_group_vars: beside-the-inventory\n',
        },
        tag: 'v1',
      },
      { files: { 'ansible/site.yml': writerPlay('two'), 'ansible/inner-link.yml': { link: 'site.yml' } } },
    ]);
  });

  const gitSource = (revision: string | undefined, outFile: string) => ({
    project: { git: { url: repo.url, ...(revision !== undefined && { revision }), path: 'ansible' } },
    playbook: 'site.yml',
    inventory: { path: 'inv/hosts' },
    extraVars: { out_file: outFile },
  });

  type Revision = () => string | undefined;
  const revisions: Array<[string, Revision, string, number]> = [
    ['the branch main', () => 'main', 'two', 1],
    ['the default branch', () => undefined, 'two', 1],
    ['the tag v1', () => 'v1', 'one', 0],
    ['a full commit sha', () => repo.shas[0]!, 'one', 0],
    ['an abbreviated commit sha', () => repo.shas[0]!.slice(0, 9), 'one', 0],
  ];
  test.each(revisions)('%s: the commit is recorded and the play of that revision runs', (_name, revision, text, commitIndex) => {
    const dir = tmp();
    const outFile = path.join(dir, 'marker');
    const run = runCompose(dir, gitSource(revision(), outFile));
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const line = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(line).toEqual(run.termination);
    expect(line.commit).toBe(repo.shas[commitIndex]);
    expect(line.bytes).toBe(readFileSync(run.output).length);
    expect(line.sha256).toBe(execFileSync('sha256sum', [run.output], { encoding: 'utf8' }).split(' ')[0]);
    // The work dir is left empty: the data dir held keys and passwords.
    expect(readdirSync(run.workDir)).toEqual([]);

    const job = runStream(run.output, path.join(dir, 'out'));
    expect({ status: job.status, rc: job.rc }).toEqual({ status: 'successful', rc: '0' });
    expect(okTasks(job)).toEqual(['write the marker']);
    expect(readFileSync(outFile, 'utf8')).toBe(`${text} beside-the-inventory`);
  });

  test('the stream holds only the sub path, without .git, links kept inside', () => {
    const dir = tmp();
    const run = runCompose(dir, gitSource('main', '/dev/null'));
    expect(run.status).toBe(0);
    const names = streamMembers(run.output, tmp());
    expect(names).toEqual(['project/', 'project/inner-link.yml', 'project/inv/', 'project/inv/group_vars/', 'project/inv/group_vars/all.yml', 'project/inv/hosts', 'project/site.yml', 'env/', 'env/extravars'].sort());
  });

  test('an unknown revision is RevisionNotFound, a missing repository SourceUnavailable (exit 3, git message kept)', () => {
    const dir = tmp();
    const unknown = runCompose(dir, gitSource('no-such-branch', '/dev/null'));
    expect(unknown.status).toBe(3);
    expect(unknown.termination).toEqual({ reason: 'RevisionNotFound', message: expect.stringContaining("couldn't find remote ref no-such-branch") });
    expect(unknown.stderr).toMatch(/^ajo compose: RevisionNotFound: /);
    expect(existsSync(unknown.output)).toBe(false);

    const abbreviated = runCompose(tmp(), gitSource('abcdef12', '/dev/null'));
    expect(abbreviated.termination).toMatchObject({ reason: 'RevisionNotFound' });

    const missing = runCompose(tmp(), { ...gitSource('main', '/dev/null'), project: { git: { url: `file://${dir}/nothere.git` } } });
    expect(missing.status).toBe(3);
    expect(missing.termination).toEqual({ reason: 'SourceUnavailable', message: expect.stringContaining('does not appear to be a git repository') });
  });

  test('InvalidSource: a playbook not in the project, a sub path that is not there, a link out of the project', () => {
    const noPlaybook = runCompose(tmp(), { ...gitSource('main', '/dev/null'), playbook: 'other.yml' });
    expect(noPlaybook.status).toBe(3);
    expect(noPlaybook.termination).toEqual({ reason: 'InvalidSource', message: "playbook 'other.yml' is not in the project" });

    const noPath = runCompose(tmp(), { ...gitSource('main', '/dev/null'), project: { git: { url: repo.url, path: 'nope' } } });
    expect(noPath.termination).toEqual({ reason: 'InvalidSource', message: "git path 'nope' is not in the repository" });

    const evil = makeRepo(tmp(), [{ files: { 'site.yml': writerPlay('x'), 'secrets': { link: '/etc' }, 'up': { link: '../..' } } }]);
    const escaped = runCompose(tmp(), { project: { git: { url: evil.url } }, playbook: 'site.yml' });
    expect(escaped.status).toBe(3);
    expect(escaped.termination).toEqual({ reason: 'InvalidSource', message: expect.stringMatching(/^project file '(secrets|up)' is a symlink to '(\/etc|\.\.\/\.\.)', outside the project: refused$/) });
  });

  test('a source that does not parse is a usage error (exit 2) with the reason in the termination log', () => {
    const run = runCompose(tmp(), { playbook: 'site.yml' });
    expect(run.status).toBe(2);
    expect(run.termination).toEqual({ reason: 'InvalidSource', message: expect.stringContaining('a playbook needs a project') });
  });
});

describeOrSkip('ajo compose: ConfigMap and Secret volumes, inline projects, vault', composeSkipReason(), () => {
  test('a ConfigMap project (nested items), a Secret inventory, extra vars from both, env and tags', () => {
    const dir = tmp();
    const outFile = path.join(dir, 'marker');
    kubeVolume(path.join(dir, 'configmaps'), 'project', {
      'site.yml': `- hosts: web
  gather_facts: false
  tasks:
    - name: write
      tags: [write]
      ansible.builtin.copy:
        dest: "{{ out_file }}"
        content: "{{ greeting }} {{ target }} {{ lookup('env', 'AJO_COMPOSE_TEST') }} {{ nested_var }}"
    - name: skipped by tag
      tags: [never_run]
      ansible.builtin.fail: {}
`,
      'vars.yml': 'nested_var: from-a-nested-file\n',
      'base-vars': 'greeting: hello\ntarget: nobody\n',
    });
    kubeVolume(path.join(dir, 'secrets'), 'inventory', { hosts: `[web]\n${LOCAL_INVENTORY}` });
    kubeVolume(path.join(dir, 'secrets'), 'private-vars', { 'vars.json': JSON.stringify({ target: 'world', out_file: outFile }) });
    const source = {
      project: { configMap: { name: 'project', items: [{ key: 'site.yml', path: 'site.yml' }, { key: 'vars.yml', path: 'group_vars/web/vars.yml' }] } },
      playbook: 'site.yml',
      inventory: { secret: { name: 'inventory', key: 'hosts' } },
      extraVarsFrom: [{ configMap: { name: 'project', key: 'base-vars' } }, { secret: { name: 'private-vars', key: 'vars.json' } }],
      env: { AJO_COMPOSE_TEST: 'from-env' },
      skipTags: ['never_run'],
    };
    const run = runCompose(dir, source);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.termination).not.toHaveProperty('commit');
    const job = runStream(run.output, path.join(dir, 'out'));
    expect({ status: job.status, rc: job.rc }).toEqual({ status: 'successful', rc: '0' });
    expect(okTasks(job)).toEqual(['write']);
    expect(readFileSync(outFile, 'utf8')).toBe('hello world from-env from-a-nested-file');
  });

  test("a ConfigMap without items: every key at the top of the project, never the kubelet's ..data", () => {
    const dir = tmp();
    kubeVolume(path.join(dir, 'configmaps'), 'flat', { 'site.yml': '- hosts: all\n  tasks: []\n', 'ansible.cfg': '[defaults]\n' });
    const run = runCompose(dir, { project: { configMap: { name: 'flat' } }, playbook: 'site.yml' });
    expect(run.status).toBe(0);
    expect(streamMembers(run.output, tmp())).toEqual(['project/', 'project/ansible.cfg', 'project/site.yml']);
  });

  test('a missing ConfigMap, a missing key and a vars document that is a list are InvalidSource naming them', () => {
    const dir = tmp();
    kubeVolume(path.join(dir, 'configmaps'), 'vars', { list: '- a\n- b\n' });
    const base = { project: { inline: [{ path: 'site.yml', content: '- hosts: all\n  tasks: []\n' }] }, playbook: 'site.yml' };
    const missingObject = runCompose(dir, { ...base, inventory: { configMap: { name: 'absent', key: 'hosts' } } });
    expect(missingObject.termination).toEqual({ reason: 'InvalidSource', message: expect.stringMatching(/^ConfigMap absent is not mounted/) });
    const missingKey = runCompose(dir, { ...base, inventory: { configMap: { name: 'vars', key: 'hosts' } } });
    expect(missingKey.termination).toEqual({ reason: 'InvalidSource', message: 'ConfigMap vars key hosts does not exist (the ConfigMap has list)' });
    const list = runCompose(dir, { ...base, extraVarsFrom: [{ configMap: { name: 'vars', key: 'list' } }] });
    expect(list.status).toBe(3);
    expect(list.termination).toEqual({ reason: 'InvalidSource', message: 'extra vars from ConfigMap vars key list must be a mapping of variables, not a list' });
  });

  test('an inline project and inventory; a vault-encrypted variable decrypted through the vault password prompt', () => {
    const dir = tmp();
    const outFile = path.join(dir, 'marker');
    const passwordFile = path.join(dir, 'vault-pass');
    writeFileSync(passwordFile, 'correct horse\n');
    const encrypted = execFileSync('ansible-vault', ['encrypt_string', '--vault-password-file', passwordFile, '--name', 'secret_word', 'swordfish'], {
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_NOCOLOR: '1' },
    });
    kubeVolume(path.join(dir, 'secrets'), 'vault', { password: 'correct horse\n' });
    const source = {
      project: {
        inline: [
          { path: 'site.yml', content: `- hosts: all\n  gather_facts: false\n  vars_files: [secret.yml]\n  tasks:\n    - name: write\n      ansible.builtin.copy: { dest: "{{ out_file }}", content: "{{ secret_word }}" }\n` },
          { path: 'secret.yml', content: encrypted },
        ],
      },
      playbook: 'site.yml',
      inventory: { inline: LOCAL_INVENTORY },
      extraVars: { out_file: outFile },
      credentials: { vaultPassword: { name: 'vault', key: 'password' } },
    };
    const run = runCompose(dir, source);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const job = runStream(run.output, path.join(dir, 'out'));
    expect({ status: job.status, rc: job.rc }).toEqual({ status: 'successful', rc: '0' });
    expect(readFileSync(outFile, 'utf8')).toBe('swordfish');
  });

  test('an ad hoc module with no project', () => {
    const dir = tmp();
    const run = runCompose(dir, { module: { name: 'ansible.builtin.ping', hosts: 'localhost' }, inventory: { inline: LOCAL_INVENTORY } });
    expect(run.status).toBe(0);
    const job = runStream(run.output, path.join(dir, 'out'));
    expect({ status: job.status, rc: job.rc }).toEqual({ status: 'successful', rc: '0' });
    expect(job.events.some((event) => event.event === 'runner_on_ok')).toBe(true);
  });
});

describeOrSkip('ajo compose: requirements from git', composeSkipReason(), () => {
  test('a role and a collection from git repositories are installed next to the playbook and used by it', () => {
    const dir = tmp();
    const role = makeRepo(path.join(dir, 'role'), [{ files: { 'tasks/main.yml': '- name: role task\n  ansible.builtin.set_fact: { from_role: role-ran }\n', 'meta/main.yml': 'galaxy_info: { author: t, description: t, license: MIT, min_ansible_version: "2.14" }\n' }, tag: 'r1' }]);
    const collection = makeRepo(path.join(dir, 'collection'), [
      {
        files: {
          'galaxy.yml': 'namespace: ajotest\nname: tools\nversion: 1.0.0\nreadme: README.md\nauthors: [t]\n',
          'README.md': 'test collection\n',
          'roles/greet/tasks/main.yml': '- name: collection task\n  ansible.builtin.set_fact: { from_collection: collection-ran }\n',
        },
      },
    ]);
    const outFile = path.join(dir, 'marker');
    const project = makeRepo(path.join(dir, 'project'), [
      {
        files: {
          'site.yml': `- hosts: all
  gather_facts: false
  roles: [myrole]
  tasks:
    - ansible.builtin.import_role: { name: ajotest.tools.greet }
    - name: write
      ansible.builtin.copy: { dest: "{{ out_file }}", content: "{{ from_role }} {{ from_collection }}" }
`,
          'roles/requirements.yml': `- src: git+${role.url}\n  version: r1\n  name: myrole\n`,
          'collections/requirements.yml': `collections:\n  - name: git+${collection.url}\n    type: git\n    version: main\n`,
        },
      },
    ]);
    const run = runCompose(tmp(), { project: { git: { url: project.url } }, playbook: 'site.yml', inventory: { inline: LOCAL_INVENTORY }, extraVars: { out_file: outFile } });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const job = runStream(run.output, path.join(dir, 'out'));
    expect({ status: job.status, rc: job.rc }).toEqual({ status: 'successful', rc: '0' });
    expect(readFileSync(outFile, 'utf8')).toBe('role-ran collection-ran');
  });

  test('a requirement that cannot be installed is RequirementsFailed with galaxy\'s message', () => {
    const dir = tmp();
    const project = makeRepo(dir, [{ files: { 'site.yml': '- hosts: all\n  tasks: []\n', 'requirements.yml': `roles:\n  - src: git+file://${dir}/missing.git\n    name: gone\n` } }]);
    const run = runCompose(tmp(), { project: { git: { url: project.url } }, playbook: 'site.yml' });
    expect(run.status).toBe(3);
    expect(run.termination).toEqual({ reason: 'RequirementsFailed', message: expect.stringContaining('ansible-galaxy role install -r requirements.yml failed') });
    expect(git(dir, 'ls-remote', project.bare)).toContain('refs/heads/main');
  });
});
