/** One line for a failed file-system call: the cause in words, then the path ("no space left on device: /x/y"). */
import { getSystemErrorMap, types } from 'node:util';

/** The system's description of an error code (ENOSPC → "no space left on device"), from libuv's table. */
function causeOf(code: string): string {
  for (const [name, description] of getSystemErrorMap().values()) if (name === code) return description;
  return code;
}

/** Undefined for anything that is not a failed system call (an ordinary Error, an AbortError). */
export function describeFileSystemError(err: unknown): string | undefined {
  // isNativeError, not instanceof: Node's own errors may come from another realm (vm contexts).
  if (!types.isNativeError(err)) return undefined;
  const { code, syscall, path } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof syscall !== 'string') return undefined;
  return path ? `${causeOf(code)}: ${path}` : `${causeOf(code)} (${syscall})`;
}

/** Give a failed system call the file it was about: a write's ENOSPC names none. Returns `err` for `throw`. */
export function withPath(err: unknown, path: string): unknown {
  const failure = err as NodeJS.ErrnoException;
  if (types.isNativeError(err) && typeof failure.syscall === 'string') failure.path ??= path;
  return err;
}
