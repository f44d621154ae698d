// The chart's NODE_OPTIONS for the operator must be flags Node accepts there: it refuses some V8 flags (e.g. --optimize-for-size) and exits 9.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const values = parse(readFileSync(path.join(process.cwd(), 'charts/ajo/values.yaml'), 'utf8')) as { nodeOptions?: string; mallocTrimThreshold?: number };

test('node starts with the chart default NODE_OPTIONS', () => {
  expect(values.nodeOptions).toBeTruthy();
  const result = spawnSync(process.execPath, ['-e', 'process.stdout.write("ok")'], { env: { PATH: process.env.PATH, NODE_OPTIONS: values.nodeOptions }, encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toBe('ok');
});

test('the malloc trim threshold is a whole number of bytes', () => {
  expect(Number.isSafeInteger(values.mallocTrimThreshold)).toBe(true);
});
