// A missing optional peer dependency is named, with the command that installs it; other load errors pass through.
import { createRequire } from 'node:module';
import { importPeer, MissingPeerError, requirePeer } from '../../../operator/src/protocol/optional-peer.js';

const require = createRequire(import.meta.url);
const ABSENT = 'ajo-test-absent-package';

test('a package that is not installed: what needs it and how to install it', async () => {
  const expected = `Running a job needs the ${ABSENT} package, an optional peer dependency of ajo: npm install ${ABSENT}`;
  await expect(importPeer(ABSENT, 'Running a job', () => import(ABSENT))).rejects.toThrow(new MissingPeerError(ABSENT, 'Running a job'));
  await expect(importPeer(ABSENT, 'Running a job', () => import(ABSENT))).rejects.toThrow(expected);
  expect(() => requirePeer(ABSENT, 'Running a job', () => require(ABSENT))).toThrow(expected);
});

test('present packages load; failures that are not "this package is missing" are not disguised', async () => {
  expect(requirePeer('yaml', 'x', () => require('yaml') as typeof import('yaml')).parse('a: 1')).toEqual({ a: 1 });
  const inner = Object.assign(new Error("Cannot find module 'something-inside'"), { code: 'MODULE_NOT_FOUND' });
  expect(() => requirePeer('node-pty', 'x', () => { throw inner; })).toThrow(inner);
  await expect(importPeer('node-pty', 'x', () => Promise.reject(new Error('wrong ELF class')))).rejects.toThrow('wrong ELF class');
});
