/**
 * One reconcile of one AnsibleJobTemplate: its status (last job, counts of runs) derived from
 * the jobs the cache shows that name it, level-based, so it is right after any restart.
 */
import { isTerminal, parseAnsibleJob, type StoredAnsibleJob } from '../../api/ansible-job.js';
import { AnsibleJobTemplate, TEMPLATE_PLURAL, type AnsibleJobTemplateStatus } from '../../api/ansible-job-template.js';
import { paths, type KubeClient } from '../../kube/client.js';
import type { Informer } from '../../kube/informer.js';
import type { Logger } from '../../kube/log.js';

export interface TemplateContext {
  client: KubeClient;
  logger: Logger;
  templateInformer: (namespace: string) => Informer;
  jobInformer: (namespace: string) => Informer;
}

/** Pure: the status a template's jobs add up to. */
export function templateStatusOf(jobs: readonly StoredAnsibleJob[], previous: AnsibleJobTemplateStatus | undefined): AnsibleJobTemplateStatus {
  const newest = [...jobs].sort(
    (a, b) => Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? '') || (a.metadata.name < b.metadata.name ? 1 : -1),
  )[0];
  const phases = jobs.map((job) => job.status?.phase);
  const status: AnsibleJobTemplateStatus = {
    ...(previous ?? {}),
    runs: {
      total: jobs.length,
      active: phases.filter((phase) => !isTerminal(phase)).length,
      succeeded: phases.filter((phase) => phase === 'Succeeded').length,
      failed: phases.filter((phase) => phase === 'Failed' || phase === 'TimedOut' || phase === 'Cancelled').length,
    },
  };
  if (newest) {
    status.lastJob = {
      name: newest.metadata.name,
      ...(newest.status?.phase ? { phase: newest.status.phase } : {}),
      ...(newest.metadata.creationTimestamp ? { creationTimestamp: newest.metadata.creationTimestamp } : {}),
    };
  } else {
    delete status.lastJob;
  }
  return status;
}

export async function reconcileTemplate(context: TemplateContext, namespace: string, name: string): Promise<undefined> {
  const raw = context.templateInformer(namespace).get(`${namespace}/${name}`);
  if (!raw) return undefined;
  const parsed = AnsibleJobTemplate.safeParse(raw);
  if (!parsed.success) {
    context.logger.error('AnsibleJobTemplate does not parse; skipping', { template: `${namespace}/${name}` });
    return undefined;
  }
  const jobs = context
    .jobInformer(namespace)
    .list()
    .map((object) => parseAnsibleJob(object))
    .flatMap((result) => (result.ok ? [result.job] : []))
    .filter((job) => job.metadata.namespace === namespace && job.spec.templateRef?.name === name);
  const status = templateStatusOf(jobs, parsed.data.status);
  if (JSON.stringify(status) === JSON.stringify(parsed.data.status ?? {})) return undefined;
  const updated = await context.client.replace(paths.ajoResourceStatus(TEMPLATE_PLURAL, namespace, name), { ...raw, status });
  context.templateInformer(namespace).update(updated);
  return undefined;
}
