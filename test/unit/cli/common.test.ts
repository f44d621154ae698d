// The number parsers every ajo command's flags share: what each accepts and how it refuses.
import { InvalidArgumentError } from 'commander';
import { portNumber, positiveInteger, wholeNumber } from '../../../operator/src/cli/common.js';

describe('flag number parsers', () => {
  test('wholeNumber takes 0 and up, where 0 means something (--poll 0, --ttl 0)', () => {
    const parse = wholeNumber('--poll');
    expect(parse('0')).toBe(0);
    expect(parse('30')).toBe(30);
    expect(parse(' 7\n')).toBe(7); // as an environment variable from a template may carry it
    expect(parse('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });

  test('positiveInteger refuses 0, where 0 makes no sense (--concurrency, --forks, --async)', () => {
    const parse = positiveInteger('--concurrency');
    expect(parse('1')).toBe(1);
    expect(parse('16')).toBe(16);
    expect(() => parse('0')).toThrow(new InvalidArgumentError('--concurrency must be a whole number of at least 1'));
  });

  test.each(['', ' ', 'abc', '-1', '1.5', '1e3', '0x10', '+3', '1 2', '9007199254740992'])('both refuse %j', (text) => {
    expect(() => wholeNumber('--ttl')(text)).toThrow(new InvalidArgumentError('--ttl must be a whole number (0 or more)'));
    expect(() => positiveInteger('--forks')(text)).toThrow(InvalidArgumentError);
  });

  test('portNumber takes 1 to 65535', () => {
    const parse = portNumber('--status-port');
    expect(parse('1')).toBe(1);
    expect(parse('65535')).toBe(65535);
    for (const bad of ['0', '65536', 'http']) expect(() => parse(bad)).toThrow(new InvalidArgumentError('--status-port must be a port number (1-65535)'));
  });
});
