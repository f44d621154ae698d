/**
 * Loading ajo's optional peer dependencies (node-pty, dockerode, @kubernetes/client-node).
 *
 * A streaming library user never loads them, so installing ajo does not pull
 * them (peerDependenciesMeta optional); the code that needs one loads it on
 * first use, and when it is missing says which package to install and why.
 * It lives in the lowest layer only so that every layer can use it.
 */

export class MissingPeerError extends Error {
  constructor(
    readonly packageName: string,
    purpose: string,
  ) {
    super(`${purpose} needs the ${packageName} package, an optional peer dependency of ajo: npm install ${packageName}`);
    this.name = 'MissingPeerError';
  }
}

/** Resolution failed for `name` itself (not for something inside it, and not a load error of a present package). */
function isMissing(err: unknown, name: string): boolean {
  const { code, message } = err as NodeJS.ErrnoException;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && (message.includes(`'${name}'`) || message.includes(`"${name}"`));
}

/** `load` is the call site's own `import(name)`, so resolution and types stay there. */
export async function importPeer<T>(name: string, purpose: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw isMissing(err, name) ? new MissingPeerError(name, purpose) : err;
  }
}

/** The same for a synchronous `require(name)`. */
export function requirePeer<T>(name: string, purpose: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    throw isMissing(err, name) ? new MissingPeerError(name, purpose) : err;
  }
}
