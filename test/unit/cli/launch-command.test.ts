// `ajo launch`'s pure parts: -e values as ansible-playbook reads them, and the job it creates.
import { launchManifest, launchedJobName, parseExtraVarsArgument } from '../../../operator/src/cli/launch-command.js';
import { UsageError } from '../../../operator/src/cli/errors.js';

describe('parseExtraVarsArgument', () => {
  test('key=value pairs stay strings; a JSON or YAML mapping keeps its types; @file reads YAML', async () => {
    expect(await parseExtraVarsArgument('a=1 b=two c=x=y')).toEqual({ a: '1', b: 'two', c: 'x=y' });
    expect(await parseExtraVarsArgument('{"n": 1, "l": [true]}')).toEqual({ n: 1, l: [true] });
    expect(await parseExtraVarsArgument('@vars.yml', async (file) => (file === 'vars.yml' ? 'n: 2\nname: web\n' : ''))).toEqual({ n: 2, name: 'web' });
  });

  test('refuses what is not a mapping, with the value named', async () => {
    await expect(parseExtraVarsArgument('novalue')).rejects.toThrow(new UsageError("-e takes key=value, @file or a JSON/YAML mapping, got 'novalue'"));
    await expect(parseExtraVarsArgument('@list.yml', async () => '- a\n- b\n')).rejects.toThrow('-e @list.yml: must be a mapping of variables');
    const missing = Object.assign(new Error('nope'), { code: 'ENOENT' });
    await expect(parseExtraVarsArgument('@gone.yml', async () => Promise.reject(missing))).rejects.toThrow('-e @gone.yml: no such file');
  });
});

describe('launchManifest', () => {
  test('templateRef plus only the overrides given; -e values merge in order', async () => {
    const manifest = await launchManifest('site', 'ops', { extraVars: ['a=1 b=2', '{"b": 3}'], limit: 'web', tags: 'x, y' });
    expect(manifest).toMatchObject({ kind: 'AnsibleJob', metadata: { namespace: 'ops', name: expect.stringMatching(/^site-[0-9a-f]{5}$/) } });
    expect(manifest.spec).toEqual({ templateRef: { name: 'site' }, overrides: { extraVars: { a: '1', b: 3 }, limit: 'web', tags: ['x', 'y'] } });
    expect((await launchManifest('site', 'ops', {})).spec).toEqual({ templateRef: { name: 'site' } });
  });

  test('names stay within the job name limit', () => {
    expect(launchedJobName('t'.repeat(80)).length).toBeLessThanOrEqual(52);
  });
});
