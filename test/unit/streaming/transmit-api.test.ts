// transmit() as a library call: what it does to the stream it is given, and what its options type accepts.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { tempDirs } from '../../helpers/temp.js';
import { transmit, TransmitError, type TransmitOptions } from '../../../operator/src/streaming/transmit.js';

const tmp = tempDirs('ajo-transmit-api-');

function dataDir(): string {
  const dir = tmp();
  mkdirSync(path.join(dir, 'project'));
  writeFileSync(path.join(dir, 'project', 'play.yml'), '- hosts: all\n  tasks: []\n');
  return dir;
}

describe('the output stream', () => {
  test('is ended when the job stream is complete, as stream.pipeline ends its destination', async () => {
    const out = new PassThrough();
    const received = text(out);
    await transmit({ privateDataDir: dataDir(), playbook: 'play.yml' }, out);
    expect(out.writableEnded).toBe(true);
    expect(await received).toMatch(/\{"eof": true\}\n$/);
  });

  test('with end: false it stays open for more', async () => {
    const out = new PassThrough();
    const received = text(out);
    await transmit({ privateDataDir: dataDir(), playbook: 'play.yml' }, out, { end: false });
    expect(out.writableEnded).toBe(false);
    out.end('more\n');
    expect(await received).toMatch(/\{"eof": true\}\nmore\n$/);
  });

  test('is destroyed on failure, so a reader sees the stream cut instead of waiting for ever', async () => {
    const out = new PassThrough();
    const dir = dataDir();
    await expect(transmit({ privateDataDir: dir, playbook: 'play.yml', inventory: '../elsewhere' }, out)).rejects.toThrow(TransmitError);
    expect(out.destroyed).toBe(true);
  });
});

/** Type errors of `code` (which can import `TRANSMIT`), as `line: message`; jest's transform does not report them. */
function typeErrors(code: string): string[] {
  const file = path.join(tmp(), 'check.ts');
  writeFileSync(file, code);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map((d) => `${d.file!.getLineAndCharacterOfPosition(d.start!).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ').split(' ')[0]}`);
}

const TRANSMIT = fileURLToPath(new URL('../../../operator/src/streaming/transmit.js', import.meta.url));

describe('the options type', () => {
  test('the compiler refuses options with none of a playbook, a module or a role, or two of them', () => {
    const code = [
      `import type { TransmitOptions } from ${JSON.stringify(TRANSMIT)};`,
      "export const playbook: TransmitOptions = { privateDataDir: 'd', playbook: 'p.yml', limit: 'web' };",
      "export const module: TransmitOptions = { privateDataDir: 'd', module: 'ping', moduleArgs: 'data=x' };",
      "export const neither: TransmitOptions = { privateDataDir: 'd' };",
      "export const both: TransmitOptions = { privateDataDir: 'd', playbook: 'p.yml', module: 'ping' };",
      "export const role: TransmitOptions = { privateDataDir: 'd', role: 'web', roleVars: 'port=80' };",
      "export const roleAndPlaybook: TransmitOptions = { privateDataDir: 'd', role: 'web', playbook: 'p.yml' };",
    ].join('\n');
    expect(typeErrors(code)).toEqual(['4: Type', '5: Type', '7: Type']);
  });

  test('needs a playbook or a module, and not both', async () => {
    const privateDataDir = dataDir();
    const accepted: TransmitOptions[] = [
      { privateDataDir, playbook: 'play.yml' },
      { privateDataDir, module: 'ping', moduleArgs: 'data=x', hostPattern: 'all' },
    ];
    // @ts-expect-error neither a playbook nor a module
    const neither: TransmitOptions = { privateDataDir };
    // @ts-expect-error both a playbook and a module
    const both: TransmitOptions = { privateDataDir, playbook: 'play.yml', module: 'ping' };
    for (const options of accepted) await expect(transmit(options, new PassThrough().resume())).resolves.toBeDefined();
    // JavaScript callers, and TypeScript callers that cast, still meet the run-time check.
    for (const options of [neither, both]) {
      await expect(transmit(options, new PassThrough().resume())).rejects.toThrow('give exactly one of a playbook (-p), a module (-m) or a role (-r)');
    }
  });
});
