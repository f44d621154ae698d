import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AnsibleJobSpec, effectivePoll } from '../../../operator/src/api/ansible-job.js';
import { buildCrd, toStructuralSchema } from '../../../operator/src/api/crd.js';
import { CRD_FILE, CRD_FILES, renderCrdYaml } from '../../../operator/src/api/generate-crd.js';

describe('AnsibleJob CRD', () => {
  test('the committed CRD is exactly what the zod source generates', () => {
    const committed = readFileSync(new URL(`../../../${CRD_FILE}`, import.meta.url), 'utf8');
    expect(committed).toBe(renderCrdYaml());
  });

  test.each(CRD_FILES.map((entry) => entry.file))('%s is committed as generated, in crds/ and in the chart', (file) => {
    expect(readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8')).toBe(renderCrdYaml(file));
    expect(readFileSync(new URL(`../../../charts/ajo/${file}`, import.meta.url), 'utf8')).toBe(renderCrdYaml(file));
  });

  const version = () => (buildCrd().spec.versions as any[])[0];
  const specSchema = () => version().schema.openAPIV3Schema.properties.spec;

  test('names, status subresource, printer columns', () => {
    const crd = buildCrd();
    expect(crd.metadata.name).toBe('ansiblejobs.ajo.dev');
    expect(crd.spec.names).toMatchObject({ kind: 'AnsibleJob', shortNames: ['ajob'], categories: ['ajo'] });
    expect(version().subresources).toEqual({ status: {} });
    expect(version().additionalPrinterColumns.map((c: any) => c.name)).toEqual(
      expect.arrayContaining(['Phase', 'RC', 'OK', 'Changed', 'Failed', 'Age']),
    );
  });

  test('CEL rules for the constraints a schema cannot express', () => {
    const spec = specSchema();
    expect(spec['x-kubernetes-validations']).toEqual([
      { rule: '!has(self.async) || !has(self.poll) || self.poll <= self.async', message: 'poll must not exceed async' },
      { rule: 'has(self.templateRef) || has(self.payload) != has(self.source)', message: 'must name exactly one of payload or source' },
      {
        rule: '!has(self.templateRef) || (!has(self.payload) && !has(self.source))',
        message: 'a job with templateRef takes its payload or source from the template: name neither',
      },
      { rule: '!has(self.overrides) || has(self.templateRef)', message: 'overrides need a templateRef' },
    ]);
    expect(spec.properties.payload['x-kubernetes-validations'][0].rule).toBe('has(self.secret) != has(self.volume)');
    expect(spec.properties.payload.properties.sha256.pattern).toBe('^[a-f0-9]{64}$');
    expect(spec.required).toBeUndefined();
  });

  test('after launch the spec is frozen except suspend: one CEL transition rule names every other field', () => {
    const rules = version().schema.openAPIV3Schema['x-kubernetes-validations'] as { rule: string; message: string }[];
    const frozen = rules.find((rule) => rule.message.startsWith('spec is immutable'));
    expect(frozen).toBeDefined();
    for (const field of Object.keys(specSchema().properties)) {
      const compared = frozen!.rule.includes(`self.spec.${field} == oldSelf.spec.${field}`);
      expect([field, compared]).toEqual([field, field !== 'suspend']);
    }
    expect(frozen!.rule.startsWith('!has(oldSelf.status) || !has(oldSelf.status.attempts) || oldSelf.status.attempts == 0 ||')).toBe(true);
  });

  test('defaults in the CRD are the zod defaults', () => {
    const parsed = AnsibleJobSpec.parse({ payload: { secret: { name: 'p' }, sha256: 'a'.repeat(64) } });
    const props = specSchema().properties;
    for (const field of ['worker', 'backoffLimit', 'pendingTimeout', 'imagePullBackOffTimeout', 'suspend'] as const) {
      expect(props[field].default).toEqual(parsed[field]);
    }
  });

  test('podTemplate.spec is an open object; resources are int-or-string maps', () => {
    const props = specSchema().properties;
    expect(props.podTemplate.properties.spec).toMatchObject({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    expect(props.podTemplate.properties.spec.additionalProperties).toBeUndefined();
    expect(props.resources.properties.limits.additionalProperties).toEqual({ 'x-kubernetes-int-or-string': true });
  });

  test('the converter refuses constructs it cannot express structurally', () => {
    const tuple = z.toJSONSchema(z.object({ t: z.tuple([z.string(), z.number()]) })) as Record<string, unknown>;
    expect(() => toStructuralSchema(tuple)).toThrow(/prefixItems|tuple/);
    const union = z.toJSONSchema(z.object({ u: z.union([z.string(), z.boolean(), z.number()]) })) as Record<string, unknown>;
    expect(() => toStructuralSchema(union)).toThrow(/\$\.properties?\.?u|\$\.u: only two-way anyOf/);
  });

  test('the zod schema rejects what admission rejects', () => {
    const base = { payload: { secret: { name: 'p' }, sha256: 'a'.repeat(64) } };
    expect(AnsibleJobSpec.safeParse({ ...base, payload: { sha256: 'a'.repeat(64) } }).success).toBe(false);
    expect(AnsibleJobSpec.safeParse({ ...base, async: 5, poll: 10 }).success).toBe(false);
    expect(AnsibleJobSpec.safeParse({ ...base, async: 5, poll: 5 }).success).toBe(true);
    const asyncOnly = AnsibleJobSpec.parse({ ...base, async: 5 });
    expect(effectivePoll(asyncOnly)).toBe(5);
    expect(effectivePoll(AnsibleJobSpec.parse(base))).toBe(10);
    expect(AnsibleJobSpec.safeParse({ ...base, payload: { ...base.payload, sha256: 'XYZ' } }).success).toBe(false);
    expect(AnsibleJobSpec.safeParse({ ...base, worker: 'bash' }).success).toBe(false);
    expect(AnsibleJobSpec.safeParse({ ...base, backoffLimit: -1 }).success).toBe(false);
  });

  test('a job names a payload or a source, never both nor neither', () => {
    const payload = { secret: { name: 'p' }, sha256: 'a'.repeat(64) };
    const source = { project: { inline: [{ path: 'site.yml', content: '- hosts: all\n' }] }, playbook: 'site.yml' };
    expect(AnsibleJobSpec.safeParse({ source }).success).toBe(true);
    expect(AnsibleJobSpec.safeParse({ payload, source }).success).toBe(false);
    expect(AnsibleJobSpec.safeParse({}).success).toBe(false);
  });

  test('a template job names neither; overrides only come with a templateRef', () => {
    const payload = { secret: { name: 'p' }, sha256: 'a'.repeat(64) };
    expect(AnsibleJobSpec.safeParse({ templateRef: { name: 't' }, overrides: { limit: 'web' } }).success).toBe(true);
    expect(AnsibleJobSpec.safeParse({ templateRef: { name: 't' }, payload }).success).toBe(false);
    expect(AnsibleJobSpec.safeParse({ payload, overrides: { limit: 'web' } }).success).toBe(false);
  });

  test('source: inline paths may not escape, what to run is exactly one thing, references need a project', () => {
    const ok = (source: unknown) => AnsibleJobSpec.safeParse({ source }).success;
    const inline = (path: string) => ({ project: { inline: [{ path, content: '' }] }, playbook: 'site.yml' });
    expect(ok(inline('roles/web/tasks/main.yml'))).toBe(true);
    expect(ok(inline('../etc/passwd'))).toBe(false);
    expect(ok(inline('roles/../../x'))).toBe(false);
    expect(ok(inline('/etc/passwd'))).toBe(false);
    expect(ok({ project: { inline: [{ path: 'a', content: '' }, { path: 'a', content: '' }] }, playbook: 'a' })).toBe(false);
    expect(ok({ module: { name: 'ping' } })).toBe(true);
    expect(ok({ playbook: 'site.yml' })).toBe(false);
    expect(ok({ ...inline('site.yml'), module: { name: 'ping' } })).toBe(false);
    expect(ok({ module: { name: 'ping' }, inventory: { path: 'hosts' } })).toBe(false);
    expect(ok({ module: { name: 'ping' }, inventory: { inline: 'a', path: 'hosts' } })).toBe(false);
    expect(ok({ project: { git: { url: 'https://example.org/x.git' }, inline: [{ path: 'a', content: '' }] }, playbook: 'a' })).toBe(false);
    expect(ok({ ...inline('site.yml'), project: { inline: [{ path: 'site.yml', content: 'x'.repeat(65_537) }] } })).toBe(false);
  });
});
