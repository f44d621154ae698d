// The folders of operator/src form layers, and imports only run downward: this test keeps it so.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../operator/src');

/**
 * Lowest first. A folder may import from a lower layer and from itself; folders that share a
 * layer are independent of each other. docs/architecture.md draws the same picture.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['protocol'], // the wire formats: frames, kwargs, zip, status document
  ['job', 'api'], // running ansible-playbook; the AnsibleJob resource's schema
  ['streaming', 'cleanup', 'schedule'], // transmit, worker, process, run; local `worker cleanup`; cron and schedule arithmetic
  ['source'], // `ajo compose`: a spec.source job (git, ConfigMaps, Secrets) into a transmit stream
  ['kube'], // Kubernetes plumbing: client, informer, work queue, leader election, metrics
  ['controller', 'sweep', 'scheduler'], // the AnsibleJob controller; the operator's cleanup sweep; the AnsibleSchedule controller
  ['manager'], // the composition root: one operator instance
  ['cli'], // the `ajo` command
];
/** The library entry (operator/src/index.ts) may reach only the streaming core. */
const LIBRARY_ENTRY_LAYER = 2;

function layerOf(folder: string): number {
  const layer = LAYERS.findIndex((folders) => folders.includes(folder));
  if (layer < 0) throw new Error(`operator/src/${folder} is in no layer: add it to LAYERS (and docs/architecture.md)`);
  return layer;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
export function relativeImports(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g;
  for (const match of source.matchAll(pattern)) found.push(match[2]!);
  return found;
}

function folderOf(file: string): string {
  const relative = path.relative(SRC, file);
  return relative.includes(path.sep) ? relative.split(path.sep)[0]! : '';
}

describe('operator/src layering', () => {
  test('relativeImports finds static, type-only, re-exported and dynamic imports', () => {
    const sample = [
      "import { a } from '../protocol/frames.js';",
      "import type { B } from './b.js';",
      "export { c } from '../kube/client.js';",
      "const d = await import('../streaming/worker.js');",
      "import 'node:fs';",
      "import './side-effect.js';",
    ].join('\n');
    expect(relativeImports(sample)).toEqual([
      '../protocol/frames.js',
      './b.js',
      '../kube/client.js',
      '../streaming/worker.js',
      './side-effect.js',
    ]);
  });

  test('every folder is in a layer and every import runs downward', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = folderOf(file);
      const fromLayer = from === '' ? LIBRARY_ENTRY_LAYER : layerOf(from);
      for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
        const target = path.resolve(path.dirname(file), specifier);
        if (!target.startsWith(SRC + path.sep)) {
          violations.push(`${path.relative(SRC, file)} imports ${specifier}, outside operator/src`);
          continue;
        }
        const to = folderOf(target);
        if (to === from) continue;
        if (to === '') {
          violations.push(`${path.relative(SRC, file)} imports the library entry ${specifier}`);
          continue;
        }
        const toLayer = layerOf(to);
        const allowed = from === '' ? toLayer <= LIBRARY_ENTRY_LAYER : toLayer < fromLayer;
        if (!allowed) violations.push(`${path.relative(SRC, file)} (${from || 'index'}, layer ${fromLayer}) imports ${specifier} (${to}, layer ${toLayer})`);
      }
    }
    expect(violations).toEqual([]);
  });
});
