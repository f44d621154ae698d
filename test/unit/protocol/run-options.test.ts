// The run options table: the kwargs line it makes must be ansible-runner's, byte for byte.
import { readFileSync } from 'node:fs';
import { messageLine } from '../../../operator/src/protocol/frames.js';
import { runnerKwargsSchema, parseRunnerKwargs } from '../../../operator/src/protocol/kwargs.js';
import { DEFAULT_CONTAINER_IMAGE, kwargsFor, RUN_OPTIONS, runOptionsShape } from '../../../operator/src/protocol/run-options.js';
import { fixture } from '../../helpers/fixtures.js';

/** ansible-runner 2.3.1's transmit: the keys its CLI always writes, in __main__.py's run_options order. */
const RUNNER_TRANSMIT_KEYS = [
  'ident', 'binary', 'playbook', 'module', 'module_args', 'host_pattern', 'verbosity', 'quiet', 'rotate_artifacts', 'json_mode',
  'omit_event_data', 'only_failed_event_data', 'inventory', 'forks', 'project_dir', 'artifact_dir', 'roles_path', 'process_isolation',
  'process_isolation_executable', 'process_isolation_path', 'process_isolation_hide_paths', 'process_isolation_show_paths',
  'process_isolation_ro_paths', 'container_image', 'container_volume_mounts', 'container_options', 'directory_isolation_base_path',
  'cmdline', 'limit', 'suppress_env_files',
];

const recordedKwargsLine = (name: string): string => readFileSync(fixture('transmit_variants', `${name}.stream`), 'utf8').split('\n')[0]! + '\n';
const line = (options: Parameters<typeof kwargsFor>[0]): string => messageLine(new Map([['kwargs', kwargsFor(options)]]));

describe('run options → kwargs', () => {
  test("with nothing set: ansible-runner's 30 keys in its order, with its defaults", () => {
    const kwargs = kwargsFor({});
    expect([...kwargs.keys()]).toEqual(RUNNER_TRANSMIT_KEYS);
    expect(kwargs.get('ident')).toMatch(/^[0-9a-f]{32}$/);
    expect(kwargs.get('container_image')).toBe(DEFAULT_CONTAINER_IMAGE);
    expect(Object.fromEntries([...kwargs].filter(([k]) => k !== 'ident' && k !== 'container_image'))).toEqual({
      ...Object.fromEntries(RUNNER_TRANSMIT_KEYS.filter((k) => k !== 'ident' && k !== 'container_image').map((k) => [k, null])),
      quiet: false,
      rotate_artifacts: 0,
      json_mode: false,
      omit_event_data: false,
      only_failed_event_data: false,
      suppress_env_files: false,
    });
  });

  test('recorded ansible-runner transmit kwargs lines come out byte for byte', () => {
    expect(line({ ident: '4ce86582ed8d4fc89746633f1bfc5fd5', module: 'ansible.builtin.ping', moduleArgs: 'data=pong', hostPattern: 'localhost' })).toBe(
      recordedKwargsLine('module_adhoc'),
    );
    expect(line({ ident: '991be2932d384e6784a76e9cf20f3a42', playbook: 'test.yml' })).toBe(recordedKwargsLine('nonexistent_pdd'));
    // `ansible-runner transmit pdd -p test.yml --ident my-job-42 --forks 5 -v -v -q --roles-path /opt/roles ...`
    expect(
      line({
        ident: 'my-job-42',
        binary: '/usr/bin/ansible-playbook',
        playbook: 'test.yml',
        verbosity: 2,
        quiet: true,
        rotateArtifacts: 3,
        json: true,
        omitEventData: true,
        onlyFailedEventData: true,
        inventory: 'inventory/hosts',
        forks: 5,
        projectDir: '/tmp/proj',
        artifactDir: '/tmp/somewhere',
        rolesPath: '/opt/roles',
        containerImage: 'example/img:1',
        containerVolumeMounts: ['/a:/b'],
        containerOptions: ['--net=host'],
        cmdline: '--check --diff',
        limit: 'localhost',
        omitEnvFiles: true,
      }),
    ).toBe(recordedKwargsLine('playbook_many_options'));
  });

  test('keys only the Python API sends come after the 30, in a fixed order, and only when set', () => {
    const kwargs = kwargsFor({ playbook: 'p.yml', timeout: 30, extravars: { a: 1 }, skipTags: 'slow', tags: 'web' });
    expect([...kwargs.keys()]).toEqual([...RUNNER_TRANSMIT_KEYS, 'tags', 'skip_tags', 'extravars', 'timeout']);
    expect([...kwargs].slice(30)).toEqual([['tags', 'web'], ['skip_tags', 'slow'], ['extravars', { a: 1 }], ['timeout', 30]]);
  });

  test('role options have no kwargs of their own', () => {
    expect([...kwargsFor({ role: 'web', roleVars: 'a=1', roleSkipFacts: true }).keys()]).toEqual(RUNNER_TRANSMIT_KEYS);
  });
});

describe('one table behind the library options and the incoming kwargs schema', () => {
  test('every flag belongs to a library option, and every library option with a kwarg is accepted incoming', () => {
    for (const [name, row] of Object.entries(RUN_OPTIONS)) {
      if ('flag' in row) expect(runOptionsShape).toHaveProperty(name);
      if ('kwarg' in row) expect(runnerKwargsSchema.shape).toHaveProperty(row.kwarg.key);
    }
  });

  test('what transmit writes is what a worker accepts', () => {
    const kwargs = kwargsFor({ playbook: 'p.yml', forks: 3, rolesPath: 'r', tags: 't', timeout: 5, extravars: { x: [1] } });
    expect(parseRunnerKwargs(Object.fromEntries(kwargs))).toMatchObject({ ok: true });
  });

  test("incoming kwargs take the Python API's looser types, and refuse unknown keys", () => {
    expect(parseRunnerKwargs({ playbook: 'p.yml', forks: 5, roles_path: 'a:b', inventory: { all: { hosts: {} } }, envvars: { A: '1' } })).toMatchObject({ ok: true });
    expect(parseRunnerKwargs({ playbook: 'p.yml', forks: 'five' })).toEqual({ ok: false, error: 'forks: forks must be a whole number' });
    expect(parseRunnerKwargs({ playbook: 'p.yml', role: 'web' })).toEqual({ ok: false, error: "unknown run option(s) 'role'" });
  });
});
