/**
 * The compiled `ajo` as a user meets it when a command is mistyped: exit 2 and
 * one line on stderr that says what is wrong and where the help is, never the
 * whole help text; and nothing written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AJO } from './pipeline.js';
import { tempDirs } from '../helpers/temp.js';

const tmp = tempDirs('ajo-cli-');

function ajo(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [AJO, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBECONFIG: '/nonexistent' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const scratch = tmp();
/** A private data dir that must not come into being: usage errors are found before anything is written. */
const dir = path.join(scratch, 'never-made');

describe('usage errors: exit 2, one line, a hint', () => {
  test.each([
    [['run', dir, '--frobnicate'], "ajo: unknown option '--frobnicate' (see 'ajo run --help')"],
    [['run', dir, '-p', 'x.yml', '--forsk', '3'], "ajo: unknown option '--forsk'; did you mean --forks? (see 'ajo run --help')"],
    [['transmit', dir, '-p', 'x.yml', '--forks'], "ajo: option '--forks <n>' argument missing (see 'ajo transmit --help')"],
    [['run', dir, '-p', 'x.yml', '--forks', 'abc'], "ajo: option '--forks <n>' argument 'abc' is invalid. --forks must be a whole number of at least 1 (see 'ajo run --help')"],
    [['transmit', dir, '-p', 'x.yml', '--forks', '0'], "ajo: option '--forks <n>' argument '0' is invalid. --forks must be a whole number of at least 1 (see 'ajo transmit --help')"],
    [['run', dir, '-p', 'x.yml', '-e', 'novalue'], "ajo: extra var 'novalue' is not key=value (see 'ajo run --help')"],
    [
      ['transmit', dir, '-p', 'x.yml', '-e', '{"a": [1'],
      'ajo: extra vars \'{"a": [1\' are not YAML or JSON: Flow sequence in block collection must be sufficiently indented and end with a ] at line 1, column 9 (see \'ajo transmit --help\')',
    ],
    [['run', dir, '-p', 'x.yml', '-e', `@${path.join(scratch, 'missing.yml')}`], null],
    [['transmit', dir], "ajo: give exactly one of a playbook (-p), a module (-m) or a role (-r) (see 'ajo transmit --help')"],
    [['transmit', dir, '-p', 'x.yml', '-m', 'ping'], "ajo: give exactly one of a playbook (-p), a module (-m) or a role (-r) (see 'ajo transmit --help')"],
    [['transmit', dir, '-p', 'x.yml', '--hosts', 'web'], "ajo: --hosts: the --hosts option can only be used with -m or -r (see 'ajo transmit --help')"],
    [['transmit', dir, '-p', 'x.yml', '--ident', 'a/b'], "ajo: --ident: ident must not contain slashes or NUL (see 'ajo transmit --help')"],
    [['transmit', dir, '-p', 'x.yml', '--role-vars', 'a=1'], "ajo: --role-vars: only means something with a role (-r) (see 'ajo transmit --help')"],
    [
      ['run', dir, '-r', 'web', '--role-vars', 'a=b=c'],
      "ajo: --role-vars: role var 'a=b=c' must be key=value with one '=' (ansible-runner splits on each '=') (see 'ajo run --help')",
    ],
    [['transmit', dir, '-r', 'web', '--role-vars', 'ports={80,443}'], "ajo: --role-vars: role var 'ports' cannot be sent: Object of type set is not JSON serializable (see 'ajo transmit --help')"],
    [['run', dir, 'extra'], "ajo: too many arguments for 'run'. Expected 1 argument but got 2. (see 'ajo run --help')"],
    [['worker', '--bogus'], "ajo: unknown option '--bogus' (see 'ajo worker --help')"],
    [['worker', '--keepalive-seconds', 'soon'], "ajo: option '--keepalive-seconds <n>' argument 'soon' is invalid. --keepalive-seconds must be a whole number (0 or more) (see 'ajo worker --help')"],
    [['process', dir, '--status-port', '0'], "ajo: option '--status-port <port>' argument '0' is invalid. --status-port must be a port number (1-65535) (see 'ajo process --help')"],
    [['worker', 'cleanup', '--grace-period', 'soon'], "ajo: argument --grace-period: invalid int value: 'soon' (see 'ajo worker cleanup --help')"],
    [['submit', dir, '-p', 'x.yml', '--poll', 'often'], "ajo: option '--poll <seconds>' argument 'often' is invalid. --poll must be a whole number (0 or more) (see 'ajo submit --help')"],
    [['submit', dir, '-p', 'x.yml', '-e', '[1]'], "ajo: --extra-vars must be a JSON object (see 'ajo submit --help')"],
    [['operator', '--concurrency', '0'], "ajo: option '--concurrency <n>' argument '0' is invalid. --concurrency must be a whole number of at least 1 (see 'ajo operator --help')"],
    [['status'], "ajo: missing required argument 'name' (see 'ajo status --help')"],
    [['frobnicate'], "ajo: unknown command 'frobnicate' (see 'ajo --help')"],
  ])('ajo %j', (args, line) => {
    const result = ajo(args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toHaveLength(2); // one line and its newline
    if (line === null) expect(result.stderr).toMatch(/^ajo: cannot read extra vars file .*missing\.yml: ENOENT.* \(see 'ajo run --help'\)\n$/);
    else expect(result.stderr).toBe(`${line}\n`);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('asking for help is not an error', () => {
  test('ajo run --help: the options grouped as ansible-runner groups them, on stdout, exit 0', () => {
    const result = ajo(['run', '--help']);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    for (const heading of ['What to run:', 'Roles (-r):', 'Ansible options:', 'ansible-runner options:']) expect(result.stdout).toContain(`\n${heading}\n`);
    expect(result.stdout).toMatch(/-r, --role <name>/);
  });

  test('ajo --version', () => {
    expect(ajo(['--version'])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });
});
