/**
 * Suites and tests that need something the machine may lack (a program, a cluster, root).
 *
 * Without it they are skipped, never silently: the reason goes into the skipped title as
 * `[SKIPPED: reason]`, where test/helpers/skip-reporter.js finds it, prints
 * `SKIPPED <tier>: <reason>` for the file and counts it in the run's last lines. The title
 * carries it because that is what jest hands a reporter from every worker.
 */

/** The mark the skip reporter looks for at the end of a skipped title (skip-reporter.js). */
export const skippedTitle = (name: string, reason: string): string => `${name} [SKIPPED: ${reason}]`;

/** `describe(name, fn)`, or, when `skipReason` is not null, the same suite skipped for that reason. */
export function describeOrSkip(name: string, skipReason: string | null, fn: () => void): void {
  if (skipReason === null) describe(name, fn);
  else describe.skip(skippedTitle(name, skipReason), fn);
}

/** `test(name, fn, timeout)`, or, when `skipReason` is not null, the same test skipped for that reason. */
export function testOrSkip(name: string, skipReason: string | null, fn: jest.ProvidesCallback, timeout?: number): void {
  if (skipReason === null) test(name, fn, timeout);
  else test.skip(skippedTitle(name, skipReason), fn, timeout);
}
