/**
 * Finding ansible-runner's awx_display callback, with the real Python and the
 * real ansible-runner installed on this machine.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findDisplayCallbackDir, prefetchDisplayCallbackDir } from '../../../operator/src/job/executables.js';
import { describeOrSkip } from '../../helpers/skip.js';
import { tempDirs } from '../../helpers/temp.js';
import { missingPrograms } from '../../helpers/programs.js';

const basePath = '/usr/local/bin:/usr/bin:/bin';
const tmp = tempDirs('ajo-callback-test-');

/** A stand-in ansible_runner package, which Python finds first when its dir is on PYTHONPATH. */
function shadowPackage(): { pythonPath: string; callbackDir: string } {
  const root = tmp();
  const callbackDir = path.join(root, 'ansible_runner', 'display_callback', 'callback');
  mkdirSync(callbackDir, { recursive: true });
  writeFileSync(path.join(root, 'ansible_runner', '__init__.py'), '');
  writeFileSync(path.join(callbackDir, 'awx_display.py'), '# stand-in\n');
  return { pythonPath: root, callbackDir };
}

describeOrSkip('findDisplayCallbackDir', missingPrograms('ansible-playbook', 'ansible_runner'), () => {
  test("asks ansible-playbook's Python, which knows the installed ansible-runner", async () => {
    const dir = await findDisplayCallbackDir(['ansible-playbook'], new Map([['PATH', basePath]]), os.tmpdir());
    expect(existsSync(path.join(dir, 'awx_display.py'))).toBe(true);
    expect(dir).toMatch(/ansible_runner\/display_callback\/callback$/);
  });

  test("a prefetch with the worker's environment does not answer for a job whose PYTHONPATH differs", async () => {
    const shadow = shadowPackage();
    prefetchDisplayCallbackDir({ PATH: basePath, HOME: os.homedir() });
    const plain = await findDisplayCallbackDir(['ansible-playbook'], new Map([['PATH', basePath], ['HOME', os.homedir()]]), os.tmpdir());
    const shadowed = await findDisplayCallbackDir(
      ['ansible-playbook'],
      new Map([['PATH', basePath], ['HOME', os.homedir()], ['PYTHONPATH', shadow.pythonPath]]),
      os.tmpdir(),
    );
    expect(shadowed).toBe(shadow.callbackDir);
    expect(plain).not.toBe(shadow.callbackDir);
  });

  test('an ansible_runner in the current directory is not taken (ansible-playbook would not see it)', async () => {
    const shadow = shadowPackage();
    const previous = process.cwd();
    process.chdir(shadow.pythonPath);
    try {
      // A HOME of its own, so no earlier lookup in this process answers.
      const env = new Map([['PATH', basePath], ['HOME', shadow.pythonPath]]);
      const dir = await findDisplayCallbackDir(['ansible-playbook'], env, shadow.pythonPath);
      expect(dir).not.toBe(shadow.callbackDir);
      expect(existsSync(path.join(dir, 'awx_display.py'))).toBe(true);
    } finally {
      process.chdir(previous);
    }
  });
});
