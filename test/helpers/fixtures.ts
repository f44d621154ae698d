import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const repoRoot = path.resolve(here, '..', '..');
/** Recorded behaviour of the real ansible-runner 2.3.1 (test/fixtures/runner, a copy of shared/fixtures/runner). */
export const runnerFixtures = path.resolve(repoRoot, 'test', 'fixtures', 'runner', 'fixtures');
export const fixture = (...parts: string[]): string => path.join(runnerFixtures, ...parts);
/**
 * The recorded demo's input made deterministic for live comparisons (its async jobs wait for
 * conditions, not times; see its project/test.yml). The recorded outputs stay those of the original.
 */
export const deterministicDemo = path.resolve(repoRoot, 'test', 'conformance', 'demo');
/**
 * The demo's interpreter for tasks that check an async job (see the script): a data dir made in a
 * test copies it into project/ to make its own async checks see states set by order, not by timing.
 */
export const asyncGate = path.join(deterministicDemo, 'project', 'async-gate');
