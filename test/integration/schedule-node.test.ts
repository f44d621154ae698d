/**
 * AnsibleSchedule with real worker pods on the cluster's node: a slow playbook (a 65 s task,
 * longer than the schedule's minute) is still running when the next run comes due, so Forbid
 * skips that run; the job then succeeds, the next run starts and succeeds, and the succeeded
 * history limit of 1 prunes the first. Waits follow the controller's computed run times.
 */
import { readFileSync } from 'node:fs';
import type { KubeClient } from '../../operator/src/kube/client.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import { schedulePaths } from '../../operator/src/api/ansible-schedule.js';
import { scheduledJobName } from '../../operator/src/schedule/index.js';
import { client, createNamespace, deleteNamespace, describeWithNode, ensureCrd, paths, runOperator, waitFor } from './harness.js';

const MINUTE = 60_000;
/** The runner image the cluster's node has (images/build loads it), for worker, sidecar and compose. */
const RUNNER_IMAGE = `ajo-runner:${(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;
/** Longer than a minute, so the job is certainly active when the next run comes due. */
const SLOW_TASK_SECONDS = 65;
/** A real pod starts, composes and runs the play within this, on a loaded 2-core machine. */
const RUN_SLACK_MS = 150_000;

const SLOW_PLAY = `- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.command: sleep ${SLOW_TASK_SECONDS}
`;

interface JobItem {
  metadata: { name: string; deletionTimestamp?: string };
  status?: { phase?: string };
}

describeWithNode('AnsibleSchedule with real worker pods', () => {
  let kube: KubeClient;
  let namespace: string;
  let operator: RunningOperator | undefined;

  beforeAll(async () => {
    kube = client();
    await ensureCrd(kube);
    namespace = await createNamespace(kube, 'ajo-sched-node');
  });
  afterAll(async () => {
    await operator?.stop();
    if (namespace) await deleteNamespace(kube, namespace);
  });

  const jobs = async () => (await kube.get<{ items: JobItem[] }>(paths.ansibleJobs(namespace), { query: { labelSelector: 'ajo.dev/schedule=slow' } })).items;
  const phaseOf = async (name: string) => (await jobs()).find((job) => job.metadata.name === name)?.status?.phase;
  const status = async () =>
    (await kube.get<{ status?: { nextScheduleTime?: string; lastSkippedTime?: string; lastSuccessfulTime?: string } }>(schedulePaths.schedule(namespace, 'slow'))).status;

  test('Forbid skips the run that comes due while a slow playbook runs; a later run succeeds and the history limit prunes the first', async () => {
    operator = await runOperator(kube, [namespace], {
      podOptions: { defaultImage: RUNNER_IMAGE, processImage: RUNNER_IMAGE, composeImage: RUNNER_IMAGE, statusPort: 8765 },
      statusSource: 'proxy',
    });
    await kube.create(schedulePaths.schedules(namespace), {
      apiVersion: 'ajo.dev/v1alpha1',
      kind: 'AnsibleSchedule',
      metadata: { name: 'slow' },
      spec: {
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 1,
        jobTemplate: { spec: { source: { project: { inline: [{ path: 'site.yml', content: SLOW_PLAY }] }, playbook: 'site.yml' } } },
      },
    });
    const first = Date.parse(await waitFor('the first next run', async () => (await status())?.nextScheduleTime));
    const firstName = scheduledJobName('slow', new Date(first));

    await waitFor('the first job running', async () => ((await phaseOf(firstName)) === 'Running' ? true : undefined), first - Date.now() + RUN_SLACK_MS, 500);
    const skipped = await waitFor('the run after it skipped', async () => {
      const at = (await status())?.lastSkippedTime;
      return at && Date.parse(at) > first ? Date.parse(at) : undefined;
    }, first + MINUTE - Date.now() + RUN_SLACK_MS, 500);
    expect(skipped).toBe(first + MINUTE);
    expect((await jobs()).map((job) => job.metadata.name)).toEqual([firstName]);
    await waitFor('the Skipped event', async () =>
      (await kube.get<{ items: { reason: string; message: string; involvedObject: { kind: string } }[] }>(paths.events(namespace))).items.find(
        (event) => event.involvedObject.kind === 'AnsibleSchedule' && event.reason === 'Skipped' && event.message.includes(`${firstName} still active`),
      ),
    );

    await waitFor('the first job succeeded', async () => ((await phaseOf(firstName)) === 'Succeeded' ? true : undefined), first + SLOW_TASK_SECONDS * 1000 - Date.now() + RUN_SLACK_MS, 500);
    // The schedule's status follows the job's: the controller records lastSuccessfulTime in a
    // reconcile after its job informer delivers the Succeeded phase, so wait for that write.
    const lastSuccess = await waitFor('the schedule records the success', async () => (await status())?.lastSuccessfulTime);
    // The first job's completionTime: after its run began.
    expect(Date.parse(lastSuccess)).toBeGreaterThan(first);
    const later = Date.parse(await waitFor('a run after the first ended', async () => {
      const next = (await status())?.nextScheduleTime;
      return next && Date.parse(next) > skipped ? next : undefined;
    }));
    const laterName = scheduledJobName('slow', new Date(later));
    await waitFor('the later job succeeded and the first pruned (successfulJobsHistoryLimit 1)', async () => {
      const now = await jobs();
      const laterDone = now.find((job) => job.metadata.name === laterName)?.status?.phase === 'Succeeded';
      const firstKept = now.some((job) => job.metadata.name === firstName && !job.metadata.deletionTimestamp);
      return laterDone && !firstKept ? true : undefined;
    }, later + SLOW_TASK_SECONDS * 1000 - Date.now() + RUN_SLACK_MS, 500);
  }, 600_000);
});
