// transmit() as a library call: what it does to the stream it is given, and what its options type accepts.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { transmit, TransmitError, type TransmitOptions } from '../../../operator/src/streaming/transmit.js';

function dataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ajo-transmit-api-'));
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

describe('the options type', () => {
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
      await expect(transmit(options, new PassThrough().resume())).rejects.toThrow('give exactly one of a playbook (-p) or a module (-m)');
    }
  });
});
