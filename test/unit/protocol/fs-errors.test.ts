import { openSync, writeSync, closeSync } from 'node:fs';
import { describeFileSystemError, withPath } from '../../../operator/src/protocol/fs-errors.js';

/** A real failed system call: writing to /dev/full fails with ENOSPC and, like any write, names no path. */
function enospc(): NodeJS.ErrnoException {
  const fd = openSync('/dev/full', 'w');
  try {
    writeSync(fd, 'x');
  } catch (err) {
    return err as NodeJS.ErrnoException;
  } finally {
    closeSync(fd);
  }
  throw new Error('writing to /dev/full succeeded');
}

test('a failed write says what went wrong, and where once told', () => {
  const err = enospc();
  expect(describeFileSystemError(err)).toBe('no space left on device (write)');
  expect(withPath(err, '/data/artifacts/stdout')).toBe(err);
  expect(describeFileSystemError(err)).toBe('no space left on device: /data/artifacts/stdout');
  // A path the error already names is kept.
  withPath(err, '/elsewhere');
  expect(describeFileSystemError(err)).toBe('no space left on device: /data/artifacts/stdout');
});

test('anything but a failed system call is left to the caller', () => {
  const plain = new Error('ENOSPC: looks like one, is not');
  expect(describeFileSystemError(plain)).toBeUndefined();
  expect(withPath(plain, '/x')).not.toHaveProperty('path');
  expect(describeFileSystemError('a string')).toBeUndefined();
});
