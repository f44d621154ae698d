// When the operator compacts its heap: only when quiet after the committed heap grew past the budget.
import { GROWTH_BYTES, QUIET_BYTES, shouldCompact } from '../../../operator/src/manager/heap-compaction.js';

const MB = 1024 * 1024;
const base = 40 * MB;

test('a quiet process whose heap grew past the budget since the last compaction compacts', () => {
  const previous = { committed: base + GROWTH_BYTES + MB, used: 30 * MB };
  const now = { committed: base + GROWTH_BYTES + MB, used: 30 * MB + QUIET_BYTES / 2 };
  expect(shouldCompact(now, previous, base)).toBe(true);
});

test('a process still allocating does not, however much the heap grew', () => {
  const previous = { committed: base + 4 * GROWTH_BYTES, used: 30 * MB };
  const now = { committed: base + 4 * GROWTH_BYTES, used: 30 * MB + 2 * QUIET_BYTES };
  expect(shouldCompact(now, previous, base)).toBe(false);
});

test('a quiet process whose heap grew less than the budget does not', () => {
  const sample = { committed: base + GROWTH_BYTES - MB, used: 30 * MB };
  expect(shouldCompact(sample, sample, base)).toBe(false);
});

test('the first check has nothing to compare with and does not', () => {
  expect(shouldCompact({ committed: base + 4 * GROWTH_BYTES, used: 30 * MB }, undefined, base)).toBe(false);
});
