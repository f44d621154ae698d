// (h) a queue draining real jobs: 100 short AnsibleJobs (one inline playbook, written as a
// person would) through an AnsibleQueue with maxRunning 5, on the real node, against the peer a
// Kubernetes user would pick: one Indexed batch/v1 Job with completions 100 and parallelism 5
// running ansible-playbook on the same playbook in the same image. Drain time of each (from the
// first create to the last job finished) and the ratio, in one run. The operator runs as its own
// process (as in case (d)). Needs $KUBECONFIG of a cluster whose node runs pods and has our
// runner image (the e2e suite loads it).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../lib/env.mjs';
import { ajoCli } from '../lib/env.mjs';
import { startOperator, waitForServiceAccount } from './operator.mjs';

/** The runner image the e2e suite loads into the local test cluster. */
const IMAGE = `ajo-runner:${JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version}`;
const JOBS = 100;
const PARALLEL = 5;
const TIMEOUT_MS = 30 * 60_000;
const PLAYBOOK = '- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: "job {{ job | default(\'n/a\') }}" }\n';
/** Both sides ask for little CPU, so that the scheduler never holds back a slot the queue gave. */
const SMALL = { requests: { cpu: '10m', memory: '64Mi' } };

const client = () => import(path.join(repoRoot, 'operator/dist/kube/client.js'));

/** @returns {Promise<string | undefined>} why the case cannot run here */
export async function queueDrainSkipReason() {
  if (!process.env.KUBECONFIG) return '$KUBECONFIG is not set (start the local cluster with test/cluster/up and export the KUBECONFIG it prints)';
  try {
    const { KubeClient } = await client();
    const nodes = await new KubeClient().get('/api/v1/nodes', { timeoutMs: 5000 });
    const ready = nodes.items.filter((node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    if (ready.length === 0) return 'no Ready node runs pods in this cluster';
    const hasImage = ready.some((node) => (node.status?.images ?? []).some((image) => image.names?.some((name) => name.endsWith(`/${IMAGE}`) || name === IMAGE)));
    if (!hasImage) return `no node has ${IMAGE} (run the e2e suite once, or images/build --load cluster)`;
    return undefined;
  } catch (error) {
    return `the API server in $KUBECONFIG does not answer: ${error.message}`;
  }
}

async function waitUntil(what, check) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const done = await check();
    if (done) return done;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${TIMEOUT_MS / 60_000} min`);
    await sleep(1000);
  }
}

export async function queueDrainCase({ log }) {
  const { KubeClient, paths } = await client();
  const kube = new KubeClient();
  const suffix = randomBytes(3).toString('hex');
  const namespaces = { ajo: `ajo-bench-drain-${suffix}`, jobs: `ajo-bench-drain-job-${suffix}` };
  log(`queue drain: ${JOBS} jobs, ${PARALLEL} at a time, ajo's queue then an Indexed Job (namespaces ${Object.values(namespaces).join(', ')})`);
  for (const name of Object.values(namespaces)) await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  let operator;
  try {
    await Promise.all(Object.values(namespaces).map((ns) => waitForServiceAccount(kube, ns)));

    // ajo: a queue and 100 jobs naming it.
    operator = await startOperator(namespaces.ajo, log, ajoCli, IMAGE);
    await kube.create(paths.ajoResources('ansiblequeues', namespaces.ajo), { apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleQueue', metadata: { name: 'drain' }, spec: { maxRunning: PARALLEL } });
    const ajoStart = Date.now();
    for (let i = 0; i < JOBS; i += 1) {
      await kube.create(paths.ansibleJobs(namespaces.ajo), {
        apiVersion: 'ajo.dev/v1alpha1',
        kind: 'AnsibleJob',
        metadata: { name: `drain-${String(i).padStart(3, '0')}` },
        spec: {
          queue: 'drain',
          resources: SMALL,
          podTemplate: { spec: { containers: [{ name: 'process', resources: SMALL }] } },
          source: { project: { inline: [{ path: 'site.yml', content: PLAYBOOK }] }, playbook: 'site.yml', extraVars: { job: i } },
        },
      });
    }
    const ajoJobs = await waitUntil('ajo jobs', async () => {
      const items = (await kube.get(paths.ansibleJobs(namespaces.ajo))).items;
      return items.length === JOBS && items.every((job) => ['Succeeded', 'Failed', 'TimedOut', 'Cancelled'].includes(job.status?.phase)) ? items : undefined;
    });
    const ajoMs = Date.now() - ajoStart;
    const ajoSucceeded = ajoJobs.filter((job) => job.status?.phase === 'Succeeded').length;
    const operatorRun = await operator.stop();
    operator = undefined;
    log(`  ajo: ${ajoSucceeded}/${JOBS} succeeded in ${(ajoMs / 1000).toFixed(1)} s`);

    // The peer: one Indexed Job, the same playbook from a ConfigMap, the same image.
    await kube.create(`/api/v1/namespaces/${namespaces.jobs}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'playbook' }, data: { 'site.yml': PLAYBOOK } });
    const jobStart = Date.now();
    await kube.create(`/apis/batch/v1/namespaces/${namespaces.jobs}/jobs`, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'drain' },
      spec: {
        completions: JOBS,
        parallelism: PARALLEL,
        completionMode: 'Indexed',
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'ansible',
                image: IMAGE,
                imagePullPolicy: 'IfNotPresent',
                command: ['sh', '-c', 'exec ansible-playbook -i localhost, -c local -e job=$JOB_COMPLETION_INDEX /playbook/site.yml'],
                env: [{ name: 'HOME', value: '/tmp' }],
                resources: SMALL,
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'playbook', mountPath: '/playbook' }],
              },
            ],
            volumes: [{ name: 'playbook', configMap: { name: 'playbook' } }],
          },
        },
      },
    });
    const jobStatus = await waitUntil('the Indexed Job', async () => {
      const job = await kube.get(`/apis/batch/v1/namespaces/${namespaces.jobs}/jobs/drain`);
      const finished = job.status?.conditions?.find((c) => ['Complete', 'Failed'].includes(c.type) && c.status === 'True');
      return finished ? job.status : undefined;
    });
    const jobMs = Date.now() - jobStart;
    log(`  Indexed Job: ${jobStatus.succeeded ?? 0}/${JOBS} succeeded in ${(jobMs / 1000).toFixed(1)} s`);
    return {
      case: `(h) ${JOBS} short real jobs, ${PARALLEL} at a time: an AnsibleQueue (maxRunning ${PARALLEL}) against one Indexed batch/v1 Job (parallelism ${PARALLEL}), same playbook and image`,
      drain: { ajoMs, ajoSucceeded, jobMs, jobSucceeded: jobStatus.succeeded ?? 0, operatorPeakRssKb: operatorRun.peakRssKb },
      target: 'report only (the issue sets none): drain time of each and the ratio',
      met: ajoSucceeded === JOBS && (jobStatus.succeeded ?? 0) === JOBS ? 'both drained' : '**not all succeeded**',
    };
  } finally {
    if (operator) await operator.stop().catch(() => undefined);
    for (const name of Object.values(namespaces)) await kube.delete(`/api/v1/namespaces/${name}`).catch(() => undefined);
  }
}
