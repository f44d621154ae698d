// (d) the operator at scale: operatorScale() (test/bench/operator-scale.ts) creates 1,000
// AnsibleJobs at once against the API server in $KUBECONFIG and times their pods; with a
// kube-controller-manager it times the Job controller on as many Jobs for comparison.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, repoRoot, scrubbedEnv } from '../lib/env.mjs';
import { measurePipeline } from '../lib/measure.mjs';

const RSS_CEILING_KB = 200 * 1024;

/** @returns {string | undefined} why the case cannot run here */
export function operatorSkipReason() {
  if (!process.env.KUBECONFIG) return '$KUBECONFIG is not set (start a cluster with test/cluster/up and export the KUBECONFIG it prints)';
  try {
    execFileSync(process.execPath, ['-e', `import('${path.join(repoRoot, 'operator/dist/controller/kube/client.js')}').then(async ({ KubeClient, loadKubeConfig }) => { await new KubeClient(loadKubeConfig()).get('/apis/ajo.dev/v1alpha1', { timeoutMs: 5000 }); })`], { stdio: 'pipe', timeout: 20_000 });
    return undefined;
  } catch (error) {
    const stderr = String(error.stderr ?? '').trim().split('\n').filter(Boolean).at(-1);
    return `the API server in $KUBECONFIG does not serve ajo.dev/v1alpha1 (is it up, with crds/ applied?): ${stderr ?? error.message}`;
  }
}

/** Compiles operator-scale.ts with the operator sources it imports, into the cache dir. */
function compileScaleCase() {
  const outDir = path.join(cacheDir, 'operator-scale-build');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(repoRoot, 'test/bench/tsconfig.json'), '--outDir', outDir], { stdio: 'inherit' });
  // The compiled files are ES modules and import the repo's dependencies.
  writeFileSync(path.join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(outDir, 'node_modules'));
  return path.join(outDir, 'test', 'bench', 'operator-scale-main.js');
}

export async function operatorCase({ jobs, log }) {
  const main = compileScaleCase();
  const resultFile = path.join(cacheDir, 'operator-scale-result.json');
  log(`operator: ${jobs} AnsibleJobs against ${process.env.KUBECONFIG}`);
  const measured = await measurePipeline([{ argv: [process.execPath, main], label: 'operator scale' }], {
    stdout: resultFile,
    env: { ...scrubbedEnv, KUBECONFIG: process.env.KUBECONFIG, AJO_BENCH_JOBS: String(jobs) },
  });
  const result = JSON.parse(readFileSync(resultFile, 'utf8'));
  const memoryOk = measured.peakRssKb < RSS_CEILING_KB;
  // Without a kube-controller-manager there is no yardstick: the throughput half is unknown.
  const throughputOk = result.jobControllerTimeToAllPodsMs === null ? null : result.timeToAllPodsMs <= result.jobControllerTimeToAllPodsMs;
  return {
    case: `(d) operator, ${result.jobs} AnsibleJobs`,
    result,
    processRssKb: measured.peakRssKb,
    wallMs: measured.wallMs,
    target: 'RSS < 200 MB; pods no slower than the Job controller',
    met: memoryOk && throughputOk !== false ? (throughputOk === null ? 'memory only' : true) : false,
  };
}
