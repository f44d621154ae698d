// Template resolution and queue gating before launch (controller/prelaunch.ts, template/resolve.ts), as pure logic.
import { prelaunch, queueOf } from '../../../operator/src/controller/prelaunch.js';
import { effectiveJob, resolveTemplate } from '../../../operator/src/controller/template/resolve.js';
import { AnsibleJobSpec } from '../../../operator/src/api/ansible-job.js';
import { AnsibleJobTemplate } from '../../../operator/src/api/ansible-job-template.js';
import type { StoredAnsibleJob } from '../../../operator/src/api/ansible-job.js';
import { makeJob, T0 } from './fixtures.js';

const source = { project: { inline: [{ path: 'site.yml', content: '- hosts: all\n' }] }, playbook: 'site.yml', extraVars: { a: 1, b: 2 }, limit: 'all' };
function template(overridable: string[] = ['extraVars', 'limit'], job: Record<string, unknown> = { source }, generation = 4) {
  return AnsibleJobTemplate.parse({
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJobTemplate',
    metadata: { name: 'site', namespace: 'ns', uid: 'tpl-uid', generation },
    spec: { job, overridable },
  });
}
function templateJob(spec: Record<string, unknown> = {}, status?: StoredAnsibleJob['status']): StoredAnsibleJob {
  return {
    apiVersion: 'ajo.dev/v1alpha1',
    kind: 'AnsibleJob',
    metadata: { name: 'run-1', namespace: 'ns', uid: 'uid-9', resourceVersion: '1', generation: 1, creationTimestamp: new Date(T0).toISOString() },
    spec: AnsibleJobSpec.parse({ templateRef: { name: 'site' }, ...spec }),
    ...(status ? { status } : {}),
  };
}
const observe = (job: StoredAnsibleJob, extra: Partial<Parameters<typeof prelaunch>[0]> = {}) =>
  prelaunch({ job, template: undefined, queueExists: () => true, defaultQueue: undefined, now: T0 + 1000, ...extra });

describe('resolveTemplate', () => {
  test('overrides merge over the template where it allows them; the generation is recorded', () => {
    const resolved = resolveTemplate(templateJob({ overrides: { extraVars: { b: 3, c: 4 }, limit: 'web' } }), template());
    expect(resolved.kind).toBe('resolved');
    if (resolved.kind !== 'resolved') return;
    expect(resolved.template).toMatchObject({ name: 'site', uid: 'tpl-uid', generation: 4 });
    expect(resolved.template.spec.source).toMatchObject({ extraVars: { a: 1, b: 3, c: 4 }, limit: 'web', playbook: 'site.yml' });
  });

  test('a field the template does not mark overridable is refused, naming it and what is allowed', () => {
    const refused = resolveTemplate(templateJob({ overrides: { tags: ['x'], limit: 'web' } }), template(['limit']));
    expect(refused).toEqual({ kind: 'refused', reason: 'OverrideNotAllowed', message: expect.stringContaining('does not let a job override tags (it allows only limit') });
    expect(resolveTemplate(templateJob({ overrides: { limit: 'web' } }), template([]))).toMatchObject({ message: expect.stringContaining('it allows no overrides') });
  });

  test("the job's queue and priority win over the template's", () => {
    const resolved = resolveTemplate(templateJob({ queue: 'fast', priority: 7 }), template([], { source, queue: 'slow', priority: 1 }));
    expect(resolved).toMatchObject({ kind: 'resolved', template: { spec: { queue: 'fast', priority: 7 } } });
  });

  test('effectiveJob runs the recorded spec with the job\'s own suspend', () => {
    const resolved = resolveTemplate(templateJob(), template());
    if (resolved.kind !== 'resolved') throw new Error('not resolved');
    const job = templateJob({ suspend: true }, { template: resolved.template });
    expect(effectiveJob(job)?.spec).toMatchObject({ source: { playbook: 'site.yml' }, suspend: true });
    expect(effectiveJob(job)?.spec.templateRef).toBeUndefined();
  });
});

describe('prelaunch', () => {
  test('a missing template: Pending with a condition and an Event, a timer to pendingTimeout, then Failed', () => {
    const job = templateJob({ pendingTimeout: 30 });
    const held = observe(job);
    expect(held.kind).toBe('hold');
    if (held.kind !== 'hold') return;
    expect(held.plan.status?.phase).toBe('Pending');
    expect(held.plan.status?.conditions).toEqual([expect.objectContaining({ type: 'TemplateResolved', status: 'False', reason: 'TemplateNotFound' })]);
    expect(held.plan.events).toEqual([expect.objectContaining({ reason: 'TemplateNotFound' })]);
    expect(held.plan.requeueAfterMs).toBe(29_000);
    const late = observe(job, { now: T0 + 30_000 });
    expect(late.kind === 'hold' && late.plan.status).toMatchObject({ phase: 'Failed', conditions: expect.arrayContaining([expect.objectContaining({ type: 'Finished', reason: 'PendingTimeout' })]) });
  });

  test('a refused override fails the job with the reason', () => {
    const held = observe(templateJob({ overrides: { tags: ['x'] } }), { template: template(['limit']) });
    expect(held.kind === 'hold' && held.plan.status).toMatchObject({ phase: 'Failed', conditions: expect.arrayContaining([expect.objectContaining({ type: 'Finished', reason: 'OverrideNotAllowed' })]) });
  });

  test('a found template is recorded first; the next reconcile proceeds with the resolved spec', () => {
    const held = observe(templateJob(), { template: template() });
    if (held.kind !== 'hold') throw new Error('expected hold');
    expect(held.plan.status?.template).toMatchObject({ name: 'site', generation: 4 });
    const next = observe(templateJob({}, held.plan.status), { template: template([], { source: { ...source, limit: 'changed' } }, 5) });
    expect(next.kind).toBe('proceed');
    expect(next.kind === 'proceed' && next.job.spec.source?.limit).toBe('all');
  });

  test('a job in a queue waits Queued until admitted; a missing queue says so with an Event', () => {
    const job = makeJob({ queue: 'q' });
    const held = observe(job);
    expect(held.kind === 'hold' && held.plan.status).toMatchObject({ phase: 'Queued', queue: { name: 'q' }, conditions: [expect.objectContaining({ type: 'Queued', reason: 'Waiting' })] });
    const missing = observe(job, { queueExists: () => false });
    expect(missing.kind === 'hold' && missing.plan.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'QueueNotFound' })]);
    const admitted = makeJob({ queue: 'q' }, { phase: 'Pending', queue: { name: 'q', admittedAt: new Date(T0).toISOString() } });
    expect(observe(admitted).kind).toBe('proceed');
  });

  test('the default queue applies to jobs not yet launched, and once recorded it stays', () => {
    expect(queueOf(makeJob(), 'default-q')).toBe('default-q');
    expect(queueOf(makeJob({}, { attempts: 1, phase: 'Running' }), 'default-q')).toBeUndefined();
    expect(queueOf(makeJob({}, { phase: 'Queued', queue: { name: 'old' } }), 'new')).toBe('old');
    expect(queueOf(makeJob({ queue: 'mine' }), 'default-q')).toBe('mine');
  });
});

describe('templateStatusOf', () => {
  test('counts the jobs that exist and names the newest', async () => {
    const { templateStatusOf } = await import('../../../operator/src/controller/template/reconcile.js');
    const at = (seconds: number, name: string, phase?: string) =>
      ({ ...templateJob(), metadata: { ...templateJob().metadata, name, creationTimestamp: new Date(T0 + seconds * 1000).toISOString() }, ...(phase ? { status: { phase } } : {}) }) as StoredAnsibleJob;
    const status = templateStatusOf([at(0, 'a', 'Succeeded'), at(5, 'c', 'Queued'), at(2, 'b', 'TimedOut'), at(1, 'd')], undefined);
    expect(status).toEqual({ runs: { total: 4, active: 2, succeeded: 1, failed: 1 }, lastJob: { name: 'c', phase: 'Queued', creationTimestamp: new Date(T0 + 5000).toISOString() } });
    expect(templateStatusOf([], status)).toEqual({ runs: { total: 0, active: 0, succeeded: 0, failed: 0 } });
  });
});
