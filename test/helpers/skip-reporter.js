// Jest reporter: says why each test was skipped, per file as it finishes and again at the end of the run.
import path from 'node:path';

/** The mark test/helpers/skip.ts (skippedTitle) puts at the end of a skipped suite's or test's title. */
const MARK = / \[SKIPPED: (.*)\]$/;

/** @typedef {{ tier: string, reason: string, title: string | null, file: string, tests: number }} Skip */

export default class SkipReporter {
  /** @type {Skip[]} */
  skips = [];
  /** Tests left out by -t: the user's choice, so counted but not listed. */
  deselected = 0;

  /** @param {import('@jest/types').Config.GlobalConfig} globalConfig */
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.namePattern = globalConfig.testNamePattern;
  }

  /** @param {unknown} _test @param {import('@jest/test-result').TestResult} result */
  onTestResult(_test, result) {
    const file = path.relative(this.rootDir, result.testFilePath);
    const tier = typeof result.displayName === 'object' ? result.displayName.name : 'jest';
    /** @type {Map<string, Skip>} */
    const here = new Map();
    for (const assertion of result.testResults) {
      if (assertion.status !== 'pending') continue;
      const marked = [...assertion.ancestorTitles, assertion.title].findLast((title) => MARK.test(title));
      if (!marked && this.namePattern) {
        this.deselected += 1;
        continue;
      }
      const reason = marked ? MARK.exec(marked)[1] : 'no reason given (skip through test/helpers/skip.ts)';
      const skip = here.get(marked ?? '') ?? { tier, reason, title: marked ? marked.replace(MARK, '') : null, file, tests: 0 };
      skip.tests += 1;
      here.set(marked ?? '', skip);
    }
    for (const skip of here.values()) {
      this.skips.push(skip);
      process.stderr.write(`${line(skip)}\n`);
    }
  }

  /** @param {unknown} _contexts @param {import('@jest/test-result').AggregatedResult} results */
  onRunComplete(_contexts, results) {
    const listed = this.skips.reduce((sum, skip) => sum + skip.tests, 0);
    const counted = listed + this.deselected;
    const agree = counted === results.numPendingTests ? '' : ` (but jest counts ${results.numPendingTests}: a skip this reporter missed)`;
    const deselected = this.deselected ? `  ${this.deselected} not selected by -t ${this.namePattern}\n` : '';
    process.stderr.write(`SKIPPED: ${counted === 0 ? 'none' : plural(counted)}${agree}\n${this.skips.map((skip) => `  ${line(skip)}\n`).join('')}${deselected}`);
  }
}

const plural = (tests) => `${tests} ${tests === 1 ? 'test' : 'tests'}`;

/** @param {Skip} skip */
const line = (skip) => `SKIPPED ${skip.tier}: ${skip.reason} — ${skip.title === null ? '' : `"${skip.title}", `}${plural(skip.tests)} (${skip.file})`;
