/** Run by skip-report.test.ts in a jest of its own: every way a test can be skipped. */
import { describeOrSkip, testOrSkip } from '../../helpers/skip.js';

describeOrSkip('a suite that has what it needs', null, () => {
  test('runs', () => expect(1 + 1).toBe(2));
});

describeOrSkip('a suite without its program', 'needs frobnicate (not installed)', () => {
  test('one', () => undefined);
  test('two', () => undefined);
});

testOrSkip('a test that needs root', 'mounting needs root', () => undefined);

test.skip('a bare skip', () => undefined);
