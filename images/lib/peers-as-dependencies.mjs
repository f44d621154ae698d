// Rewrites an app copy's package.json so the optional peers become plain dependencies.
// The library leaves node-pty, dockerode and the Kubernetes client as optional peers (a
// streaming user never loads them), but the images run the CLI and the operator, which do:
// without this, `npm prune --omit=dev` would drop them from the image.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'package.json';
const pkg = JSON.parse(readFileSync(file, 'utf8'));
for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
  pkg.dependencies = { ...pkg.dependencies, [name]: range };
  delete pkg.devDependencies?.[name];
}
writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
