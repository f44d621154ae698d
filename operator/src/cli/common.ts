/** What every `ajo` command shares: the package version and the number parsers for its flags. */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

// Digits only: Number() would also take '', '1e3', '0x10' and '1.0'. Blanks around them are
// forgiven, as environment variables set from templates may carry them.
const DIGITS = /^\s*\d+\s*$/;

function integerParser(flag: string, least: 0 | 1, what: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!DIGITS.test(value) || !Number.isSafeInteger(parsed) || parsed < least) throw new InvalidArgumentError(`${flag} must be ${what}`);
    return parsed;
  };
}

/** For counts and durations where 0 means something (--poll 0 is fire and forget, --ttl 0 deletes at once). */
export const wholeNumber = (flag: string) => integerParser(flag, 0, 'a whole number (0 or more)');

/** For values where 0 makes no sense: --concurrency, --forks, --async. */
export const positiveInteger = (flag: string) => integerParser(flag, 1, 'a whole number of at least 1');

/** A TCP port to listen on. */
export const portNumber = (flag: string) => {
  const parse = integerParser(flag, 1, 'a port number (1-65535)');
  return (value: string): number => {
    const port = parse(value);
    if (port > 65535) throw new InvalidArgumentError(`${flag} must be a port number (1-65535)`);
    return port;
  };
};
