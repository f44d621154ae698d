// (f) the operator with history: N finished AnsibleJobs already in its namespace (created,
// then given their final status through the status subresource, as the operator would have
// left them: conditions, host counts, a 2 KiB stdout tail), then `ajo operator` started as
// its own process. Measured: its RSS once the first sync is done and every job has been
// reconciled once (idle), against the same operator in an empty namespace. The difference
// over N is what each kept job costs; users who never set ttlSecondsAfterFinished keep all.
//
// This build is measured twice on the same jobs: with the chart's runtime settings (NODE_OPTIONS,
// MALLOC_TRIM_THRESHOLD_; as deployed) and with Node's and glibc's defaults.
// AJO_BENCH_BASELINE_CLI names another build's cli/main.js to measure too (e.g. main's, to
// show a change's before and after), with the defaults (main's chart set none).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ajoCli, repoRoot } from '../lib/env.mjs';
import { counterTotal, describeRuntimeEnv, inBatches, operatorRuntimeEnv, startOperator } from './operator.mjs';

const IDLE_CEILING_KB = 100 * 1024;
const CREATE_CONCURRENCY = 50;
const SETTLE_MS = 10_000;
const RECONCILE_TIMEOUT_MS = 10 * 60_000;

const client = () => import(path.join(repoRoot, 'operator/dist/kube/client.js'));

const STDOUT_LINE = 'TASK [bench : a task with a long enough name] ********************************\nok: [host-01] => {"changed": false}\n';

/** A finished job's manifest: half are payload jobs, half spec.source jobs with inline files. */
function manifest(index) {
  const common = { podTemplate: { spec: { nodeSelector: { 'ajo.dev/bench': 'no-such-node' } } } };
  if (index % 2 === 0) {
    return { ...common, payload: { secret: { name: `bench-payload-${index}` }, sha256: randomBytes(32).toString('hex') } };
  }
  const playbook = `- hosts: all\n  gather_facts: false\n  tasks:\n${Array.from({ length: 12 }, (_, task) => `    - name: task ${task}\n      ansible.builtin.debug:\n        msg: "step ${task} of job ${index}"\n`).join('')}`;
  return {
    ...common,
    source: {
      project: { inline: [{ path: 'site.yml', content: playbook }, { path: 'group_vars/all.yml', content: 'greeting: hello\nretries: 3\n' }] },
      playbook: 'site.yml',
      inventory: { inline: 'host-01 ansible_connection=local\nhost-02 ansible_connection=local\n' },
      extraVars: { run: index, owner: 'bench' },
    },
  };
}

function finalStatus(created, index) {
  const start = new Date(Date.now() - 3600_000 + index).toISOString();
  const end = new Date(Date.now() - 3500_000 + index).toISOString();
  const podName = `${created.metadata.name}-1`;
  let stdoutTail = '';
  while (stdoutTail.length < 2048) stdoutTail += STDOUT_LINE;
  return {
    phase: 'Succeeded',
    jid: created.metadata.uid,
    podName,
    podUID: randomBytes(16).toString('hex'),
    attempts: 1,
    startTime: start,
    completionTime: end,
    lastPollTime: end,
    runnerStatus: 'successful',
    rc: 0,
    hostCounts: { ok: 26, changed: 2, failures: 0, unreachable: 0, skipped: 4, rescued: 0, ignored: 0 },
    eventCount: 60,
    lastEvent: '60 playbook_on_stats',
    stdoutTail: stdoutTail.slice(stdoutTail.length - 2048),
    artifacts: { volume: 'emptyDir', path: `artifacts/${created.metadata.name}-1` },
    observedGeneration: 1,
    conditions: [
      { type: 'Launched', status: 'True', reason: 'Launched', message: `launch: pod ${podName} (attempt 1)`, lastTransitionTime: start },
      { type: 'Running', status: 'False', reason: 'Completed', message: 'the play finished with rc 0', lastTransitionTime: end },
      { type: 'Finished', status: 'True', reason: 'Completed', message: 'the play finished with rc 0', lastTransitionTime: end },
    ],
  };
}

/**
 * Waits until a started operator has reconciled `jobs` keys and its queue is empty, leaves it
 * idle for a while, then reads its RSS and JS heap in use.
 */
export async function waitForReconciles(operator, jobs) {
  const deadline = Date.now() + RECONCILE_TIMEOUT_MS;
  for (;;) {
    const text = await operator.metrics();
    if (counterTotal(text, 'ajo_reconcile_total') >= jobs && counterTotal(text, 'ajo_workqueue_depth') === 0) break;
    if (Date.now() > deadline) throw new Error(`the operator did not reconcile ${jobs} jobs within ${RECONCILE_TIMEOUT_MS / 1000} s`);
    await sleep(500);
  }
  // Idle: nothing left to do; what stays resident is the caches and the runtime.
  await sleep(SETTLE_MS);
  // The JS heap in use (live objects and garbage not yet collected): RSS also holds the
  // space V8 grew to during the first list and keeps.
  const heapUsedKb = counterTotal(await operator.metrics(), 'nodejs_heap_size_used_bytes') / 1024;
  return { idleRssKb: operator.rssKb(), heapUsedKb };
}

/** Makes `jobs` finished AnsibleJobs in the namespace: created, then given their final status. */
export async function makeFinishedJobs(kube, paths, namespace, jobs, log) {
  const started = Date.now();
  await inBatches(Array.from({ length: jobs }, (_, index) => index), CREATE_CONCURRENCY, async (index) => {
    const created = await kube.create(paths.ansibleJobs(namespace), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name: `done-${index}` }, spec: manifest(index) });
    await kube.replace(paths.ansibleJobStatus(namespace, created.metadata.name), { ...created, status: finalStatus(created, index) });
  });
  log(`  ${jobs} finished AnsibleJobs made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Starts an operator on the namespace, waits until it has reconciled `jobs` keys, then reads its RSS. */
async function idleRss(namespace, jobs, build, log) {
  const operator = await startOperator(namespace, log, build.cli, undefined, build.env);
  try {
    const idle = await waitForReconciles(operator, jobs);
    return { readyRssKb: operator.readyRssKb, ...idle, peakRssKb: (await operator.stop()).peakRssKb };
  } catch (error) {
    await operator.stop().catch(() => undefined);
    throw error;
  }
}

export async function historyCase({ jobs, log }) {
  const { KubeClient, paths } = await client();
  const kube = new KubeClient();
  const namespace = `ajo-bench-hist-${randomBytes(3).toString('hex')}`;
  const env = await operatorRuntimeEnv();
  const builds = [{ name: `this build, ${describeRuntimeEnv(env)}`, cli: ajoCli, env }];
  if (Object.keys(env).length > 0) builds.push({ name: `this build, ${describeRuntimeEnv({})}`, cli: ajoCli, env: {} });
  if (process.env.AJO_BENCH_BASELINE_CLI) builds.push({ name: `baseline, ${describeRuntimeEnv({})}`, cli: process.env.AJO_BENCH_BASELINE_CLI, env: {} });
  log(`history: ${jobs} finished AnsibleJobs in ${namespace}; operator idle RSS after its first sync (${builds.map((build) => build.cli).join(', ')})`);
  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'ajo.dev/bench': 'operator-history' } } });
  try {
    const empty = {};
    for (const build of builds) empty[build.name] = await idleRss(namespace, 0, build, log);
    await makeFinishedJobs(kube, paths, namespace, jobs, log);
    const withHistory = {};
    for (const build of builds) {
      withHistory[build.name] = await idleRss(namespace, jobs, build, log);
      const perJobKb = (withHistory[build.name].idleRssKb - empty[build.name].idleRssKb) / jobs;
      log(`  ${build.name}: idle RSS ${Math.round(empty[build.name].idleRssKb / 1024)} MB empty, ${Math.round(withHistory[build.name].idleRssKb / 1024)} MB with ${jobs} (${perJobKb.toFixed(1)} kB per job; JS heap in use ${Math.round(withHistory[build.name].heapUsedKb / 1024)} MB); peak ${Math.round(withHistory[build.name].peakRssKb / 1024)} MB`);
    }
    const mine = withHistory[builds[0].name];
    return {
      case: `(f) operator idle with ${jobs} finished AnsibleJobs`,
      history: { jobs, builds: builds.map((build) => ({ ...build, empty: empty[build.name], withHistory: withHistory[build.name] })) },
      target: `idle RSS < 100 MB with ${jobs} finished jobs`,
      met: mine.idleRssKb < IDLE_CEILING_KB,
    };
  } finally {
    // Deleting the namespace deletes its AnsibleJobs (no finalizers, no pods).
    await kube.delete(`/api/v1/namespaces/${namespace}`).catch((error) => log(`  could not delete ${namespace}: ${error.message}`));
    log(`  deleted namespace ${namespace}`);
  }
}
