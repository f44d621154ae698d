/**
 * The README's library example, run as written: the code block after the
 * `readme-library-example` marker, with only its import pointed at this
 * checkout's build, type-checked against the built declarations and run with
 * a 2 MB project through the real ansible-playbook. Needs `npm run build`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';
import { AJO, pythonAvailable } from './pipeline.js';
import { tempDirs } from '../helpers/temp.js';

const tmp = tempDirs('ajo-readme-');

const MARKER = '<!-- readme-library-example:';
const LIBRARY = path.join(repoRoot, 'operator', 'dist', 'index.js');

/** The fenced block right after the marker, exactly as the README shows it. */
function readmeExample(): string {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no ${MARKER} ...--> marker before its library example`);
  const block = /^```ts\n([\s\S]*?)^```$/m.exec(readme.slice(at));
  if (!block) throw new Error('no ```ts block after the readme-library-example marker');
  return block[1]!;
}

/** `demo/` as the example expects it: project/test.yml, an inventory, and 2 MB that must travel. */
function demoProject(cwd: string): string {
  const demo = path.join(cwd, 'demo');
  mkdirSync(path.join(demo, 'project'), { recursive: true });
  mkdirSync(path.join(demo, 'inventory'));
  writeFileSync(path.join(demo, 'inventory', 'hosts'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  writeFileSync(path.join(demo, 'project', 'blob.bin'), randomBytes(2 * 1024 * 1024));
  writeFileSync(
    path.join(demo, 'project', 'test.yml'),
    '- hosts: all\n  gather_facts: false\n  tasks:\n    - stat: path=blob.bin\n      register: blob\n    - assert: { that: blob.stat.size == 2097152 }\n',
  );
  return demo;
}

const describeIf = pythonAvailable() ? describe : describe.skip;

describeIf("the README's library example", () => {
  test('type-checks against the build and runs the play as written', () => {
    const cwd = tmp();
    const code = readmeExample();
    expect(code).toContain("from 'ajo';");
    const local = code.replace("from 'ajo';", `from ${JSON.stringify(LIBRARY)};`);
    writeFileSync(path.join(cwd, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(path.join(cwd, 'example.ts'), local);
    writeFileSync(path.join(cwd, 'example.mjs'), local);
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const typeRoots = path.join(repoRoot, 'node_modules', '@types');
    const checked = spawnSync(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--typeRoots', typeRoots, '--types', 'node', 'example.ts'],
      { cwd, encoding: 'utf8' },
    );
    expect(checked.stdout + checked.stderr).toBe('');

    const demo = demoProject(cwd);
    const ran = spawnSync(process.execPath, ['example.mjs'], { cwd, encoding: 'utf8', timeout: 240_000 });
    expect(ran.stderr).toBe('');
    expect(ran.status).toBe(0);
    expect(ran.stdout).toContain('TASK [assert]');
    expect(ran.stdout).toMatch(/^[0-9a-f]{32} successful 0$/m);
    expect(ran.stdout).toMatch(/^successful 0 \{\s+ok: 2,\s+changed: 0,\s+failures: 0,/m);
    expect(readFileSync(path.join(demo, 'artifacts', 'status'), 'utf8')).toBe('successful');
    expect(readdirSync(path.join(demo, 'artifacts', 'job_events')).length).toBeGreaterThan(4);
  });
});

describeIf('without the optional peer dependencies', () => {
  /** This build with every installed package but the optional peers, as `npm install ajo` leaves it. */
  function lightInstall(): string {
    const app = tmp('ajo-light-');
    cpSync(path.join(repoRoot, 'package.json'), path.join(app, 'package.json'));
    cpSync(path.join(repoRoot, 'operator', 'dist'), path.join(app, 'operator', 'dist'), { recursive: true });
    const peers = Object.keys(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).peerDependencies ?? {});
    expect(peers.sort()).toEqual(['@kubernetes/client-node', 'dockerode', 'node-pty']);
    const modules = path.join(repoRoot, 'node_modules');
    mkdirSync(path.join(app, 'node_modules', '@kubernetes'), { recursive: true });
    for (const name of readdirSync(modules).flatMap((n) => (n.startsWith('@') ? readdirSync(path.join(modules, n)).map((m) => `${n}/${m}`) : [n]))) {
      if (peers.includes(name) || name.startsWith('.')) continue;
      mkdirSync(path.dirname(path.join(app, 'node_modules', name)), { recursive: true });
      symlinkSync(path.join(modules, name), path.join(app, 'node_modules', name));
    }
    return app;
  }

  test('transmit and process work; the worker says which package it needs', () => {
    const app = lightInstall();
    const cli = path.join(app, 'operator', 'dist', 'cli', 'main.js');
    expect(existsSync(AJO)).toBe(true);
    const demo = demoProject(tmp('ajo-light-pdd-'));
    const job = execFileSync(process.execPath, [cli, 'transmit', demo, '-p', 'test.yml'], { maxBuffer: 64 * 1024 * 1024 });
    expect(job.toString('latin1')).toMatch(/\{"eof": true\}\n$/);
    const worker = spawnSync(process.execPath, [cli, 'worker'], { input: job, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(worker.stderr).toBe(
      'ajo worker: worker failed: Running a job (ansible-playbook under a pseudo-terminal, as ansible-runner does) needs the node-pty package, an optional peer dependency of ajo: npm install node-pty\n',
    );
    expect(worker.status).toBe(1);
    const processed = spawnSync(process.execPath, [cli, 'process', path.join(demo, 'out')], { input: worker.stdout, encoding: 'utf8' });
    expect(processed.stderr).toMatch(/^ajo: error rc=1 events=0 /);
  });
});
