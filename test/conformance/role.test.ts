/**
 * `-r ROLE` against the real ansible-runner: `ajo transmit DIR -r …` writes the
 * stream `ansible-runner transmit DIR -r …` writes (kwargs line, zip members
 * with their modes and contents, DIR left as it was), and --role-vars values
 * come out as ansible-runner's own role_manager makes them, on a corpus.
 * The pipeline runs of a role, in all eight mixes, are a case of matrix.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RoleVarsError, rolePlaybook } from '../../operator/src/protocol/role-play.js';
import { AJO, copyDataDir, pythonAvailable, RUNNER } from './pipeline.js';
import { tempDirs } from '../helpers/temp.js';

const tmp = tempDirs('ajo-role-case-');

const PYTHON = '/usr/bin/python3'; // the interpreter ansible-runner runs on

/** A stream as data: its kwargs pairs in order, and its zip's members in order. */
const DECODE_STREAM = String.raw`
import base64, io, json, stat, sys, zipfile
data = sys.stdin.buffer.read()
first, rest = data.split(b'\n', 1)
kwargs = json.loads(first)['kwargs']
out = {'kwargs': list(kwargs.items()), 'members': None, 'tail': None}
if rest.startswith(b'{"zipfile"'):
    header, rest = rest.split(b'\n', 1)
    size = json.loads(header)['zipfile']
    encoded = 4 * ((size + 2) // 3)
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(rest[:encoded])))
    out['members'] = [{'name': i.filename, 'mode': oct(i.external_attr >> 16), 'content': archive.read(i).decode('utf8')} for i in archive.infolist()]
    rest = rest[encoded:]
out['tail'] = rest.decode()
print(json.dumps(out))
`;

interface Decoded {
  kwargs: Array<[string, unknown]>;
  members: Array<{ name: string; mode: string; content: string }> | null;
  tail: string;
}

/** The tree with each entry's mode, to show that transmit leaves DIR as it found it. */
function tree(dir: string): string[] {
  const script = 'import os,sys\nfor d,ds,fs in sorted(os.walk(sys.argv[1])):\n  for n in sorted(ds+fs): p=os.path.join(d,n); print(os.path.relpath(p,sys.argv[1]), oct(os.lstat(p).st_mode))';
  return execFileSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' }).trim().split('\n');
}

function transmitWith(impl: 'ajo' | 'runner', dataDir: string, args: string[]): { decoded: Decoded; before: string[]; after: string[] } {
  const dir = copyDataDir(dataDir, tmp('ajo-role-copy-'));
  const before = tree(dir);
  const [program, prefix] = impl === 'ajo' ? [process.execPath, [AJO]] : [RUNNER, []];
  const result = spawnSync(program, [...prefix, 'transmit', dir, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${impl} transmit ${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`);
  const decoded = JSON.parse(execFileSync(PYTHON, ['-c', DECODE_STREAM], { input: result.stdout, encoding: 'utf8' })) as Decoded;
  return { decoded, before, after: tree(dir) };
}

/** The generated playbook's name is random on both sides: check its shape, then name it alike. */
function normalised(decoded: Decoded): Decoded {
  const playbook = decoded.kwargs.find(([key]) => key === 'playbook')?.[1];
  expect(playbook).toMatch(/^[0-9a-f]{32}$/);
  const rename = (name: string) => name.replace(playbook as string, '<PLAYBOOK>');
  return {
    kwargs: decoded.kwargs.map(([key, value]) => [key, key === 'playbook' ? '<PLAYBOOK>' : value]),
    // Both walk DIR in directory order, where the random name lands anywhere.
    members: decoded.members && decoded.members.map((m) => ({ ...m, name: rename(m.name) })).sort((a, b) => a.name.localeCompare(b.name)),
    tail: decoded.tail,
  };
}

function roleDataDir(withProject: boolean): string {
  const dir = tmp();
  mkdirSync(path.join(dir, 'roles', 'greet', 'tasks'), { recursive: true });
  writeFileSync(path.join(dir, 'roles', 'greet', 'tasks', 'main.yml'), '- debug:\n    msg: "{{ greeting | default(\'hello\') }}"\n');
  mkdirSync(path.join(dir, 'inventory'));
  writeFileSync(path.join(dir, 'inventory', 'hosts'), 'localhost ansible_connection=local\n');
  if (withProject) {
    mkdirSync(path.join(dir, 'project'));
    writeFileSync(path.join(dir, 'project', 'site.yml'), '- hosts: all\n  tasks: []\n');
  }
  return dir;
}

const describeIf = pythonAvailable() ? describe : describe.skip;

describeIf('ajo transmit -r writes the stream ansible-runner transmit -r writes', () => {
  test.each([
    ['a bare role, no project/ yet', false, ['-r', 'greet']],
    [
      'every role option, beside an existing project/',
      true,
      [
        '-r', 'greet', '--hosts', 'localhost', '--role-vars', 'greeting=hi n=3 l=[1,2.5] d={"k":None} t=(True,)', '--role-skip-facts',
        '--roles-path', '../roles', '--inventory', 'hosts', '--limit', 'localhost', '--forks', '3', '-v', '-v',
      ],
    ],
    ['an empty --role-vars adds no vars', false, ['-r', 'greet', '--role-vars', '']],
    ['a blank --role-vars adds empty vars', false, ['-r', 'greet', '--role-vars', ' ']],
  ])('%s', (_name, withProject, args) => {
    const dataDir = roleDataDir(withProject as boolean);
    const theirs = transmitWith('runner', dataDir, ['--ident', 'role-case', ...(args as string[])]);
    const ours = transmitWith('ajo', dataDir, ['--ident', 'role-case', ...(args as string[])]);
    expect(normalised(ours.decoded)).toEqual(normalised(theirs.decoded));
    // Both leave DIR as it was: the playbook (and a project/ made for it) is gone again.
    expect(theirs.after).toEqual(theirs.before);
    expect(ours.after).toEqual(ours.before);
    const play = ours.decoded.members!.find((m) => /^project\/[0-9a-f]{32}$/.test(m.name))!;
    expect(play.mode).toBe('0o100400');
    expect(JSON.parse(play.content)).toMatchObject([{ roles: [{ name: 'greet' }] }]);
  });

  test('--only-transmit-kwargs (an API option ansible-runner has no flag for): the same kwargs, no zip, DIR untouched', () => {
    const dataDir = roleDataDir(false);
    const full = transmitWith('ajo', dataDir, ['--ident', 'role-case', '-r', 'greet']);
    const kwargsOnly = transmitWith('ajo', dataDir, ['--ident', 'role-case', '-r', 'greet', '--only-transmit-kwargs']);
    expect(normalised(kwargsOnly.decoded).kwargs).toEqual(normalised(full.decoded).kwargs);
    expect(kwargsOnly.decoded.members).toBeNull();
    expect(kwargsOnly.decoded.tail).toBe('{"eof": true}\n');
    expect(kwargsOnly.after).toEqual(kwargsOnly.before);
  });
});

/** Values for `v=…` that reach each corner of literal_eval and json.dumps. */
const HAND_PICKED = [
  '1', '0x10', '0o17', '0b101', '1_000', '00', '01', '1.0', '1.', '.5', '1e5', '1E-5', '1_0.5', '09.5', '1e999', '-1e999', '-(1)', '--1', '+1.5',
  '-0.0', '-0', 'True', 'False', 'None', 'Truex', 'true', "'x'", '"x"', "'a''b'", '\'a\'"b"', "r'\\n'", "'\\n'", "'\\x41'", "'\\x4'", "'\\u00e9'",
  "'\\U0001F600'", "'\\101'", "'\\777'", "'\\q'", "u'x'", "R'x'", "f'x'", "rb'x'", "b'x'", "b'\u00e9'", "'\u00e9'", '\u00e9', '[1,2]', '[1,2,]',
  '[,]', '[]', '()', '(1)', '(1,)', '1,2', '1,', ',', '{}', "{'a':1}", '{1:2,True:3}', "{1:'a',1.0:'b'}", "{'2':1,'1':2}", '{None:1}',
  '{1.5:1}', '{(1,2):3}', '{[1]:2}', '{1,2}', '{[1]}', 'set()', '(set)()', 'set(1)', '...', '1+2j', '1+2', '1j', "{1:'a',1+0j:'b'}", '1#c',
  '#', '', "'''a'''", "''''''", "'''", "'abc", 'x', '1abc', '1_', '1__0', '0x', "[1,[2,{'a':(3,)}]]", "'\\ud800'", "'\ud83d\ude80'",
  "{'a':1,'a':2}", '[1]*2', '-True', '~1', 'a.b', '1if1else2', "'a'[0]", '{**a}', '[*a]', "'\\N'", '\\N{BULLET}', '{1:2,3}', '{1,2:3}',
  '-1+2j', '1+-2j', '(1)+(2j)', "'a'b'c'", "r'\\''", "r'\\'", "'a\\'b'", '0_0', '0e0', '1.e5', '1.5e', "'\\0'", "'\\x4g'",
  "{'a':{'b':[True,None,1.5]}}", "'\\\\'", "'\\a\\b\\f\\v\\t\\r'", '[-1,+2,-3.5]', '(((1)))', '((1,),)', '{0:1,False:2,0.0:3}', '{2:0,1.0:1}',
  '12345678901234567890123', '-0x10', '1E5J', '0B11', '0O7', '0X1f', '1'.repeat(4300), '1'.repeat(4301), `0x${'f'.repeat(3600)}`,
];

/** Short random words over literal_eval's alphabet, the same on every run. */
function fuzzWords(count: number): string[] {
  const pieces = ['0', '1', '9', '.', 'e', 'j', 'x', '_', '-', '+', "'", '"', '\\', '[', ']', '(', ')', '{', '}', ',', ':', '#', 'b', 'r', 'f', 'u',
    'N', 'T', 'rue', 'None', 'False', 'set', '...', '\u00e9', '0x', '1e', '\\x41', '\\u00e9', '\\n', '\\N{', 'BULLET}'];
  let seed = 20240611;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return Math.floor((seed / 2 ** 32) * n);
  };
  const words = new Set<string>();
  while (words.size < count) words.add(Array.from({ length: 1 + next(7) }, () => pieces[next(pieces.length)]).join(''));
  return [...words];
}

/** ansible-runner's role_manager itself, once per value: the vars it writes, or the exception it dies of. */
const ORACLE = String.raw`
import json, shutil, sys, tempfile
from ansible_runner.__main__ import role_manager
pdd = tempfile.mkdtemp()
out = []
for value in json.load(sys.stdin):
    try:
        with role_manager(dict(role='r', role_vars='v=' + value, private_data_dir=pdd, hosts=None, role_skip_facts=False)) as kwargs:
            out.append({'play': open(kwargs.playbook).read()})
    except Exception as e:
        out.append({'error': type(e).__name__})
shutil.rmtree(pdd)
print(json.dumps(out))
`;

describeIf('--role-vars values: ajo agrees with ansible-runner role_manager', () => {
  test('on hand-picked values and 1,500 random ones', () => {
    const values = [...HAND_PICKED, ...fuzzWords(1500)].filter((v) => !/[=\s]/.test(v));
    const run = spawnSync(PYTHON, ['-c', ORACLE], { input: JSON.stringify(values), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(run.status).toBe(0);
    const theirs = JSON.parse(run.stdout) as Array<{ play?: string; error?: string }>;
    expect(theirs).toHaveLength(values.length);
    const disagreements: string[] = [];
    let unsupported = 0;
    values.forEach((value, i) => {
      let ours: { play?: string; error?: string };
      try {
        ours = { play: rolePlaybook({ role: 'r', roleVars: `v=${value}` }) };
      } catch (err) {
        if (!(err instanceof RoleVarsError)) throw err;
        ours = { error: err.message };
      }
      const expected = theirs[i]!;
      if (expected.play !== undefined && ours.play === expected.play) return;
      if (expected.error !== undefined && ours.error !== undefined) return; // ansible-runner crashes; ajo refuses
      // A \N{NAME} escape needs Unicode's name table: refused, and said so.
      if (ours.error?.includes('\\N{...} escapes are not supported') && value.includes('\\N{')) {
        unsupported += 1;
        return;
      }
      disagreements.push(`${JSON.stringify(value)}: ansible-runner ${JSON.stringify(expected)}, ajo ${JSON.stringify(ours)}`);
    });
    expect(disagreements).toEqual([]);
    // The refusal is for the corner it is meant for, not a way out for everything.
    expect(unsupported).toBeLessThan(values.length / 20);
  });
});
