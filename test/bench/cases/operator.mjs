// (d) the operator at scale: 1,000 AnsibleJobs created at once against the API server in
// $KUBECONFIG, with the operator running as its own process (`ajo operator`, under
// time(1)), so its peak RSS is the operator's alone. The yardstick, in the same run: the
// Kubernetes Job controller (kube-controller-manager) making the pods of as many Jobs.
//
// Only pod *creation* is compared: both sides' pods carry a nodeSelector that matches no
// node, so they stay Pending and unscheduled. 2,000 running pods would swamp the one test
// node (and the other users of the cluster), and what the target is about is how fast each
// controller turns objects into pods, not how fast a kubelet starts containers.
//
// Times come from a watch on each namespace's pods (the ADDED event of the last pod), not
// from polling lists, so measuring adds no load that grows with the pods.
//
// `kept` (--kept N): the AnsibleJob namespace first holds N finished AnsibleJobs (made as in
// case (f)), so the new jobs are measured against an operator whose caches hold a history. The
// operator is started once those are all reconciled; its idle RSS then is reported too.
//
// The operator runs with the chart's runtime settings (charts/ajo/values.yaml: nodeOptions as
// NODE_OPTIONS, mallocTrimThreshold as MALLOC_TRIM_THRESHOLD_), as it is deployed;
// AJO_BENCH_RUNTIME_DEFAULTS=1 runs it with Node's and glibc's defaults instead.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ajoCli, cacheDir, repoRoot, scrubbedEnv } from '../lib/env.mjs';
import { makeFinishedJobs, waitForReconciles } from './history.mjs';

const RSS_CEILING_KB = 150 * 1024;
/** Issue 14: pods at least this many times faster than the Job controller. */
const SPEEDUP_TARGET = 3;
const CREATE_CONCURRENCY = 50;
const TIMEOUT_MS = 15 * 60_000;
const UNSCHEDULABLE = { 'ajo.dev/bench': 'no-such-node' };
export const IMAGE = 'ajo-runner:bench';
const KCM_METRICS = process.env.AJO_BENCH_KCM_METRICS ?? 'https://127.0.0.1:11257/metrics';

const client = () => import(path.join(repoRoot, 'operator/dist/kube/client.js'));

/** @returns {Promise<string | undefined>} why the case cannot run here */
export async function operatorSkipReason() {
  if (!process.env.KUBECONFIG) return '$KUBECONFIG is not set (start a cluster with test/cluster/up and export the KUBECONFIG it prints)';
  try {
    const { KubeClient } = await client();
    await new KubeClient().get('/apis/ajo.dev/v1alpha1', { timeoutMs: 5000 });
    return undefined;
  } catch (error) {
    return `the API server in $KUBECONFIG does not serve ajo.dev/v1alpha1 (is it up, with crds/ applied?): ${error.message}`;
  }
}

export async function inBatches(items, width, work) {
  for (let index = 0; index < items.length; index += width) await Promise.all(items.slice(index, index + width).map(work));
}

/** Counts pods as they are ADDED in a namespace; `done(n)` resolves when n have been seen. */
export async function podWatch(kube, paths, namespace) {
  const list = await kube.get(paths.pods(namespace));
  const controller = new AbortController();
  const seen = new Set();
  let lastAddedAt = 0;
  let waiter = null;
  const watching = kube
    .watch(paths.pods(namespace), { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 3600 }, (event) => {
      if (event.type !== 'ADDED') return;
      seen.add(event.object.metadata.name);
      lastAddedAt = Date.now();
      if (waiter && seen.size >= waiter.count) waiter.resolve();
    }, controller.signal)
    .catch((error) => waiter?.reject(error));
  return {
    get count() {
      return seen.size;
    },
    /** @returns {Promise<number>} the time of the ADDED event that made the count reach `count` */
    async done(count, timeoutMs) {
      if (seen.size < count) {
        await Promise.race([
          new Promise((resolve, reject) => (waiter = { count, resolve, reject })),
          sleep(timeoutMs, undefined, { ref: false }).then(() => {
            throw new Error(`${seen.size} of ${count} pods in ${namespace} after ${timeoutMs / 1000} s`);
          }),
        ]);
      }
      return lastAddedAt;
    },
    async stop() {
      controller.abort();
      await watching;
    },
  };
}

/** Sums a Prometheus counter's samples in a text exposition. */
export function counterTotal(text, name) {
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

/**
 * kube-controller-manager's own client request counter (all its controllers; during the
 * Job phase that is essentially the Job controller), read with the kubeconfig's client
 * certificate. Null when it cannot be read: the number is context, not a target.
 */
async function kcmRequests() {
  try {
    const { parse } = await import('yaml');
    const kubeconfig = parse(readFileSync(process.env.KUBECONFIG, 'utf8'));
    const context = kubeconfig.contexts.find((entry) => entry.name === kubeconfig['current-context']).context;
    const user = kubeconfig.users.find((entry) => entry.name === context.user)?.user;
    const decode = (data) => (data ? Buffer.from(data, 'base64') : undefined);
    const text = await new Promise((resolve, reject) => {
      const req = httpsRequest(KCM_METRICS, { cert: decode(user?.['client-certificate-data']), key: decode(user?.['client-key-data']), rejectUnauthorized: false, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    return counterTotal(text, 'rest_client_requests_total');
  } catch {
    return null;
  }
}

/** The environment the chart gives the operator's process (values.yaml), unless AJO_BENCH_RUNTIME_DEFAULTS=1. */
export async function operatorRuntimeEnv() {
  if (process.env.AJO_BENCH_RUNTIME_DEFAULTS === '1') return {};
  const { parse } = await import('yaml');
  const values = parse(readFileSync(path.join(repoRoot, 'charts/ajo/values.yaml'), 'utf8'));
  return {
    ...(values.nodeOptions ? { NODE_OPTIONS: values.nodeOptions } : {}),
    ...(values.mallocTrimThreshold ? { MALLOC_TRIM_THRESHOLD_: String(values.mallocTrimThreshold) } : {}),
  };
}

/** A runtime environment as one line for the results. */
export const describeRuntimeEnv = (env) => Object.entries(env).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(' ') || "Node's and glibc's defaults";

/** kube-controller-manager's client rate limit, from its command line (stock defaults when not set). */
function jobControllerRateLimit() {
  const defaults = { qps: '20', burst: '30' };
  try {
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.endsWith('kube-controller-manager')) continue;
      const flag = (name) => argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
      const qps = flag('kube-api-qps');
      const burst = flag('kube-api-burst');
      return `kube-controller-manager --kube-api-qps=${qps ?? defaults.qps} --kube-api-burst=${burst ?? defaults.burst}${qps || burst ? '' : ' (defaults; not set on its command line)'}, --concurrent-job-syncs=${flag('concurrent-job-syncs') ?? '5 (default)'}`;
    }
  } catch {
    // /proc unreadable: fall through.
  }
  return `kube-controller-manager's defaults assumed (its process is not on this machine): --kube-api-qps=${defaults.qps} --kube-api-burst=${defaults.burst}`;
}

/** `ajo operator` for one namespace, as its own process under time(1); `cli` is the build to run, `image` its worker image. */
export async function startOperator(namespace, log, cli = ajoCli, image = IMAGE, runtimeEnv = undefined) {
  runtimeEnv ??= await operatorRuntimeEnv();
  const dir = path.join(cacheDir, 'operator');
  mkdirSync(dir, { recursive: true });
  const timeFile = path.join(dir, 'operator.time');
  const logFile = path.join(dir, 'operator.log');
  rmSync(timeFile, { force: true });
  const metricsPort = 20000 + Math.floor(Math.random() * 20000);
  const argv = [
    ...['-f', '%e %M %x %U %S', '-o', timeFile, process.execPath, cli, 'operator'],
    ...['--namespace', namespace, '--no-leader-elect', '--metrics-port', String(metricsPort), '--image', image, '--log-level', 'warn'],
  ];
  const out = openSync(logFile, 'w');
  const env = { ...scrubbedEnv, KUBECONFIG: process.env.KUBECONFIG, ...runtimeEnv };
  const timeProcess = spawn('/usr/bin/time', argv, { env, stdio: ['ignore', out, out] });
  const exited = new Promise((resolve) => timeProcess.on('exit', resolve));
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  for (let waited = 0; ; waited += 200) {
    if (timeProcess.exitCode !== null) throw new Error(`ajo operator exited ${timeProcess.exitCode}; see ${logFile}`);
    const ready = await fetch(`${metricsUrl}/readyz`).then((res) => res.ok, () => false);
    if (ready) break;
    if (waited > 60_000) throw new Error(`ajo operator not ready after 60 s; see ${logFile}`);
    await sleep(200);
  }
  // time(1)'s child is the node process: signals go to it, so time(1) lives to report.
  const nodePid = Number(readFileSync(`/proc/${timeProcess.pid}/task/${timeProcess.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  const rssKb = (field) => Number(/(\d+) kB/.exec(readFileSync(`/proc/${nodePid}/status`, 'utf8').split('\n').find((line) => line.startsWith(field)) ?? '')?.[1] ?? NaN);
  log(`  ajo operator pid ${nodePid} ready (metrics on ${metricsPort}, log ${logFile}; ${describeRuntimeEnv(runtimeEnv)})`);
  return {
    runtime: describeRuntimeEnv(runtimeEnv),
    readyRssKb: rssKb('VmRSS:'),
    /** Current RSS from /proc, in kB. */
    rssKb: () => rssKb('VmRSS:'),
    metrics: async () => (await fetch(`${metricsUrl}/metrics`)).text(),
    requests: async () => counterTotal(await (await fetch(`${metricsUrl}/metrics`)).text(), 'ajo_kube_requests_total'),
    /** SIGTERM, then time(1)'s peak RSS of the whole run. */
    async stop() {
      process.kill(nodePid, 'SIGTERM');
      await exited;
      const [, peakRssKb, exit, user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
      if (exit !== 0) log(`  ajo operator exited ${exit}; see ${logFile}`);
      return { peakRssKb, cpuSeconds: user + system };
    },
  };
}

export async function waitForServiceAccount(kube, namespace) {
  for (let waited = 0; waited < 60_000; waited += 250) {
    if (await kube.getOrUndefined(`/api/v1/namespaces/${namespace}/serviceaccounts/default`)) return;
    await sleep(250);
  }
  throw new Error(`no default ServiceAccount in ${namespace} after 60 s`);
}

export async function operatorCase({ jobs, kept = 0, log }) {
  const { KubeClient, paths } = await client();
  const kube = new KubeClient();
  const suffix = randomBytes(3).toString('hex');
  const namespaces = { ajo: `ajo-bench-op-${suffix}`, jobs: `ajo-bench-job-${suffix}` };
  const names = Array.from({ length: jobs }, (_, index) => `bench-${index}`);
  log(`operator: ${jobs} AnsibleJobs, then ${jobs} Jobs, against ${process.env.KUBECONFIG} (namespaces ${Object.values(namespaces).join(', ')})`);
  for (const namespace of Object.values(namespaces)) {
    await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'ajo.dev/bench': 'operator-scale' } } });
  }
  let operator;
  try {
    for (const namespace of Object.values(namespaces)) await waitForServiceAccount(kube, namespace);

    let keptIdleDefaults;
    if (kept > 0) {
      await makeFinishedJobs(kube, paths, namespaces.ajo, kept, log);
      // Before/after in the same run: the same jobs, an operator with Node's and glibc's defaults first.
      const plain = await startOperator(namespaces.ajo, log, ajoCli, IMAGE, {});
      try {
        keptIdleDefaults = { ...(await waitForReconciles(plain, kept)), runtime: plain.runtime };
      } finally {
        keptIdleDefaults = { ...keptIdleDefaults, peakRssKb: (await plain.stop()).peakRssKb };
      }
      log(`  with ${keptIdleDefaults.runtime}: idle RSS ${Math.round(keptIdleDefaults.idleRssKb / 1024)} MB (JS heap in use ${Math.round(keptIdleDefaults.heapUsedKb / 1024)} MB), peak ${Math.round(keptIdleDefaults.peakRssKb / 1024)} MB`);
    }
    // ajo: the operator starts first (idle), then every AnsibleJob is created at once.
    operator = await startOperator(namespaces.ajo, log);
    const operatorReadyRssKb = operator.readyRssKb;
    let keptIdle;
    if (kept > 0) {
      keptIdle = await waitForReconciles(operator, kept);
      log(`  operator idle with ${kept} finished AnsibleJobs: RSS ${Math.round(keptIdle.idleRssKb / 1024)} MB (JS heap in use ${Math.round(keptIdle.heapUsedKb / 1024)} MB)`);
    }
    const ajoPods = await podWatch(kube, paths, namespaces.ajo);
    const requestsBefore = await operator.requests();
    const ajoStarted = Date.now();
    await inBatches(names, CREATE_CONCURRENCY, (name) =>
      kube.create(paths.ansibleJobs(namespaces.ajo), {
        apiVersion: 'ajo.dev/v1alpha1',
        kind: 'AnsibleJob',
        metadata: { name },
        spec: { payload: { secret: { name: 'bench-payload' }, sha256: 'c'.repeat(64) }, podTemplate: { spec: { nodeSelector: UNSCHEDULABLE } } },
      }),
    );
    const ajoCreatedMs = Date.now() - ajoStarted;
    const ajoTimeMs = (await ajoPods.done(jobs, TIMEOUT_MS)) - ajoStarted;
    log(`  ${jobs} AnsibleJobs created in ${(ajoCreatedMs / 1000).toFixed(1)} s; all pods in ${(ajoTimeMs / 1000).toFixed(1)} s`);
    // The launch's follow-up writes (status, Events) land within a few seconds; the count
    // then covers everything the operator did for the jobs, minus its start-up.
    await sleep(5000);
    const apiRequests = (await operator.requests()) - requestsBefore;
    await ajoPods.stop();
    const runtime = operator.runtime;
    const { peakRssKb: operatorPeakRssKb, cpuSeconds: operatorCpuSeconds } = await operator.stop();
    operator = undefined;
    log(`  operator: ${(apiRequests / jobs).toFixed(2)} API requests per job, peak RSS ${Math.round(operatorPeakRssKb / 1024)} MB`);

    // The Job controller, on the same API server, the same way.
    const jobPods = await podWatch(kube, paths, namespaces.jobs);
    const kcmBefore = await kcmRequests();
    const jobsStarted = Date.now();
    await inBatches(names, CREATE_CONCURRENCY, (name) =>
      kube.create(`/apis/batch/v1/namespaces/${namespaces.jobs}/jobs`, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name },
        spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', nodeSelector: UNSCHEDULABLE, containers: [{ name: 'worker', image: IMAGE }] } } },
      }),
    );
    const jobsCreatedMs = Date.now() - jobsStarted;
    const jobTimeMs = (await jobPods.done(jobs, TIMEOUT_MS)) - jobsStarted;
    await sleep(5000);
    const kcmAfter = await kcmRequests();
    await jobPods.stop();
    log(`  ${jobs} Jobs created in ${(jobsCreatedMs / 1000).toFixed(1)} s; all pods in ${(jobTimeMs / 1000).toFixed(1)} s (Job controller)`);

    const rateLimits = {
      ajo: `ajo operator: no client-side rate limit; --concurrency 16 reconciles at once (the default)`,
      jobController: jobControllerRateLimit(),
    };
    log(`  client rate limits: ${rateLimits.ajo}; Job controller: ${rateLimits.jobController}`);
    const result = {
      jobs,
      kept,
      keptIdle,
      keptIdleDefaults,
      rateLimits,
      runtime,
      timeToAllPodsMs: ajoTimeMs,
      createMs: ajoCreatedMs,
      apiRequestsPerJob: apiRequests / jobs,
      operatorPeakRssKb,
      operatorReadyRssKb,
      operatorCpuSeconds,
      jobControllerTimeToAllPodsMs: jobTimeMs,
      jobControllerCreateMs: jobsCreatedMs,
      kcmRequestsPerJob: kcmBefore === null || kcmAfter === null ? null : (kcmAfter - kcmBefore) / jobs,
    };
    const fewerRequests = result.kcmRequestsPerJob === null ? undefined : result.apiRequestsPerJob <= result.kcmRequestsPerJob;
    return {
      case: `(d) operator, ${jobs} AnsibleJobs${kept ? ` with ${kept} finished ones kept` : ''}`,
      result,
      target: `operator peak RSS < 150 MB; API requests per job <= the Job controller's; pods >= ${SPEEDUP_TARGET}x faster than the Job controller`,
      met: operatorPeakRssKb < RSS_CEILING_KB && fewerRequests !== false && ajoTimeMs * SPEEDUP_TARGET <= jobTimeMs,
    };
  } finally {
    if (operator) await operator.stop().catch(() => undefined);
    // Deleting a namespace deletes its AnsibleJobs, Jobs and pods (no finalizers on any).
    for (const namespace of Object.values(namespaces)) await kube.delete(`/api/v1/namespaces/${namespace}`).catch((error) => log(`  could not delete ${namespace}: ${error.message}`));
    log(`  deleted namespaces ${Object.values(namespaces).join(', ')}`);
  }
}
