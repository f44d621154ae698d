#!/usr/bin/env node
// The `ajo` CLI bundled for start-up: `npm run build` runs this after tsc.
//
// esbuild joins operator/src/cli/main.ts and what it loads into operator/dist/bundle/: one
// entry file (ajo.js) and one chunk per dynamically imported command module, so every
// command still loads only what it runs, from a handful of files instead of ~150 (zod alone
// is ~110 files, and tree-shaken here to the parts ajo uses). tsc's operator/dist/cli/main.js
// is then replaced by a stub that turns on Node's compile cache and imports the bundle, so the
// bin, the images and every caller of operator/dist/cli/main.js take the bundle, and the
// compile cache covers the bundle's entry too. The library (operator/dist/index.js and the
// rest of tsc's output) is untouched. Measured reasons: docs/bench.md, "Start-up".
//
//   node scripts/bundle.mjs          (after tsc; `npm run build` does both)
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(repo, 'operator', 'dist');
const outdir = path.join(dist, 'bundle');
const stub = path.join(dist, 'cli', 'main.js');
const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));

// Bundled: what transmit, worker, process, run and compose load. Everything else stays a
// package of its own in node_modules: the native node-pty, the optional peers, and what only
// the operator and the kube commands load (undici, prom-client), whose objects also cross into
// @kubernetes/client-node and must be the same copies it loads.
const BUNDLED = new Set(['commander', 'zod', 'yaml', 'yauzl']);
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})].filter((name) => !BUNDLED.has(name));

rmSync(outdir, { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: { ajo: path.join(repo, 'operator', 'src', 'cli', 'main.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: `node${pkg.engines.node.replace(/^>=\s*/, '')}`,
  tsconfig: path.join(repo, 'tsconfig.json'),
  external,
  // Chunks beside the entry: the code keeps the depth of operator/dist/cli/, which
  // common.ts's URL of package.json relies on.
  chunkNames: '[name]-[hash]',
  // The CommonJS packages (commander, yauzl) call require() for Node's built-ins, which an
  // ES module does not have.
  banner: { js: "import { createRequire as __ajoCreateRequire } from 'node:module';\nconst require = __ajoCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});

// `import { z } from 'zod'` hands esbuild zod's whole namespace, which it must keep whole: every
// locale (366 KB) would then load with every command. `import * as z from 'zod'` lets it keep
// only what is used.
const bundled = Object.values(metafile.outputs).flatMap((output) => Object.entries(output.inputs).filter(([, use]) => use.bytesInOutput > 0).map(([input]) => input));
const locales = bundled.filter((input) => /zod\/v4\/locales\/(?!en\.js$)/.test(input));
if (locales.length) {
  throw new Error(`zod's locales are in the bundle (${locales.length} files): some file under operator/src imports { z } from 'zod'; import * as z from 'zod' instead`);
}

writeFileSync(
  stub,
  [
    '#!/usr/bin/env node',
    '// The `ajo` binary, written by scripts/bundle.mjs over tsc\'s main.js: the compile cache is',
    '// turned on before the bundle is read, so that the bundle\'s own code comes from it too.',
    "import module from 'node:module';",
    '',
    'module.enableCompileCache?.();',
    "await import('../bundle/ajo.js');",
    '',
  ].join('\n'),
);
chmodSync(stub, 0o755);
rmSync(`${stub}.map`, { force: true });

// A bundle that cannot start is a broken build, not a slow one.
const version = execFileSync(process.execPath, [stub, '--version'], { encoding: 'utf8', env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' } }).trim();
if (version !== pkg.version) throw new Error(`the bundled ajo says its version is ${JSON.stringify(version)}, not ${pkg.version}`);
