/**
 * No AnsibleJob field reaches into another namespace (issue #16 item 6). A user who may only
 * create and get AnsibleJobs in namespace A (impersonated with kubectl --as) names, in every
 * field that names an object, Secrets, ConfigMaps and a claim that exist only in namespace B:
 *  - at admission, a name with a `/`, `..` or a `namespace:name` shape is refused in every such
 *    field (found by walking the CRD schema, so a new field cannot slip past the test);
 *  - the operator, running on the live API server, never sends a request outside A, and never one
 *    for Secrets, ConfigMaps or PersistentVolumeClaims at all: it only names them in pod specs;
 *  - the pods it makes are in A and reference exactly the names given, so the kubelet resolves
 *    them in A: the payload Secret that exists only in B is reported missing (FailedMount);
 *  - a podTemplate cannot mount a host path, a volume type outside the restricted profile, or a
 *    service account token (which would carry the rights of a ServiceAccount of A, including
 *    RoleBindings it has in B).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import type { ClusterAccess } from '../../operator/src/kube/access.js';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import {
  client,
  condition,
  createNamespace,
  deleteNamespace,
  describeCluster,
  ensureCrd,
  getJob,
  KubeClient,
  loadClusterAccess,
  paths,
  runOperator,
  SHA,
  waitFor,
} from '../integration/harness.js';
import { describeOrSkip, testOrSkip } from '../helpers/skip.js';
import { clusterTier } from '../cluster/tier.js';
import { findTool, missingImagesSync, repoDir, runnerImage, TERMINAL_PHASE_NAMES } from './tools.js';

const kubectl = findTool('kubectl');
const USER = 'ajo-test-alice';
/** Exists only in namespace B, as a Secret, a ConfigMap and a claim. */
const B_ONLY = 'b-only';

type Json = Record<string, unknown>;

/** Every field of the CRD that names an object: strings with the Kubernetes object-name pattern. */
function nameFieldsOfCrd(): string[] {
  const crd = parse(readFileSync(path.join(repoDir, 'crds', 'ajo.dev_ansiblejobs.yaml'), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Json } } } }[] };
  };
  const found: string[] = [];
  const unpatterned: string[] = [];
  const walk = (node: Json, at: string) => {
    if (node.type === 'object') for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Json>)) walk(child, `${at}.${key}`);
    else if (node.type === 'array') walk(node.items as Json, `${at}[]`);
    else if (node.type === 'string') {
      if (node.pattern === '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$') found.push(at);
      // A field named like an object reference must carry the pattern (a module name is not one).
      else if (/(^|\.)(name|claimName|\w+Secret|serviceAccountName)$/.test(at) && at !== 'spec.source.module.name') unpatterned.push(at);
    }
  };
  walk(crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec, 'spec');
  expect(unpatterned).toEqual([]);
  return found;
}

/** Jobs that together use every name field; every name is B_ONLY. */
function jobTemplates(): Json[] {
  const ref = (key: string) => ({ name: B_ONLY, key });
  return [
    { payload: { secret: { name: B_ONLY, key: 'stream' }, sha256: SHA }, serviceAccountName: B_ONLY, artifacts: { claimName: B_ONLY } },
    { payload: { volume: { claimName: B_ONLY, path: 'job.stream' }, sha256: SHA } },
    {
      source: {
        project: { git: { url: 'https://git.example/repo.git', authSecret: B_ONLY } },
        playbook: 'site.yml',
        inventory: { configMap: ref('hosts') },
        extraVarsFrom: [{ configMap: ref('vars') }],
        credentials: { sshKeySecret: B_ONLY, knownHosts: ref('known_hosts'), vaultPassword: ref('vault'), becomePassword: ref('become'), connectionPassword: ref('ssh') },
      },
    },
    { source: { project: { configMap: { name: B_ONLY } }, playbook: 'site.yml', inventory: { secret: ref('hosts') }, extraVarsFrom: [{ secret: ref('vars') }] } },
  ];
}

/** The value at a schema path (`a.b[].c`, arrays at index 0) in a job spec, and a setter for it. */
function locate(spec: Json, schemaPath: string): { get: () => unknown; set: (value: string) => void } | undefined {
  const steps = schemaPath.replace(/^spec\./, '').split('.').flatMap((step) => (step.endsWith('[]') ? [step.slice(0, -2), 0] : [step]));
  let parent: Record<string | number, unknown> = spec;
  for (const step of steps.slice(0, -1)) {
    const next = parent[step];
    if (typeof next !== 'object' || next === null) return undefined;
    parent = next as Record<string | number, unknown>;
  }
  const last = steps.at(-1)!;
  if (!(last in parent)) return undefined;
  return { get: () => parent[last], set: (value) => (parent[last] = value) };
}

const job = (name: string, spec: Json) => ({ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', metadata: { name }, spec });

/** An access that records every request the operator sends to the API server. */
function recordingAccess(seen: string[]): ClusterAccess {
  const real = loadClusterAccess();
  return {
    server: real.server,
    namespace: real.namespace,
    prepare: (url, method) => {
      seen.push(`${method} ${new URL(url).pathname}`);
      return real.prepare(url, method);
    },
  };
}

interface PodObject {
  metadata: { name: string; namespace: string };
  spec: Json & { volumes?: Json[]; containers?: Json[]; initContainers?: Json[] };
}

/** Every object name a pod spec refers to (volumes, projected sources, env), as `kind name`. */
function referencesOf(pod: PodObject): string[] {
  const refs: string[] = [];
  for (const volume of pod.spec.volumes ?? []) {
    const v = volume as Record<string, Record<string, unknown> | undefined>;
    if (v.secret) refs.push(`secret ${String(v.secret.secretName)}`);
    if (v.configMap) refs.push(`configmap ${String(v.configMap.name)}`);
    if (v.persistentVolumeClaim) refs.push(`pvc ${String(v.persistentVolumeClaim.claimName)}`);
    for (const source of (v.projected?.sources ?? []) as Record<string, Record<string, unknown>>[]) {
      if (source.secret) refs.push(`secret ${String(source.secret.name)}`);
      if (source.configMap) refs.push(`configmap ${String(source.configMap.name)}`);
      if (source.serviceAccountToken) refs.push('serviceaccount-token');
    }
  }
  for (const container of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])] as { env?: Json[]; envFrom?: Json[] }[]) {
    for (const env of container.env ?? []) {
      const from = env.valueFrom as Record<string, { name?: string }> | undefined;
      if (from?.secretKeyRef) refs.push(`secret ${String(from.secretKeyRef.name)}`);
      if (from?.configMapKeyRef) refs.push(`configmap ${String(from.configMapKeyRef.name)}`);
    }
    for (const env of container.envFrom ?? []) {
      const from = env as Record<string, { name?: string } | undefined>;
      if (from.secretRef) refs.push(`secret ${String(from.secretRef.name)}`);
      if (from.configMapRef) refs.push(`configmap ${String(from.configMapRef.name)}`);
    }
  }
  return [...new Set(refs)].sort();
}

describeCluster('no AnsibleJob field reaches into another namespace', () => {
  describeOrSkip('as a user with only create/get on ansiblejobs', kubectl ? null : 'kubectl is not installed (or set AJO_KUBECTL)', () => {
    const admin = client();
    let a = '';
    let b = '';
    let operator: RunningOperator | undefined;
    const operatorRequests: string[] = [];
    const id = randomBytes(3).toString('hex');

    const asUser = (args: string[], input?: string) =>
      execa(kubectl!, [`--as=${USER}`, '--namespace', a, ...args], { env: { KUBECONFIG: process.env.KUBECONFIG }, reject: false, ...(input !== undefined ? { input } : {}) });
    const createAsUser = (manifest: Json) => asUser(['create', '-f', '-'], JSON.stringify(manifest));

    beforeAll(async () => {
      await ensureCrd(admin);
      a = await createNamespace(admin, `ajo-xns-a-${id}`);
      b = await createNamespace(admin, `ajo-xns-b-${id}`);
      await admin.create(paths.secrets(b), { apiVersion: 'v1', kind: 'Secret', metadata: { name: B_ONLY }, stringData: { stream: 'B data', hosts: 'b', vars: 'b: 1', vault: 'b', become: 'b', ssh: 'b', 'ssh-privatekey': 'b' } });
      await admin.create(`/api/v1/namespaces/${b}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: B_ONLY }, data: { hosts: 'b', vars: 'b: 1', known_hosts: 'b', 'site.yml': '- hosts: all' } });
      await admin.create(`/api/v1/namespaces/${b}/persistentvolumeclaims`, {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: B_ONLY },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } }, storageClassName: 'ajo-test-none' },
      });
      await admin.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${a}/roles`, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'ansiblejob-author' },
        rules: [{ apiGroups: ['ajo.dev'], resources: ['ansiblejobs'], verbs: ['create', 'get'] }],
      });
      await admin.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${a}/rolebindings`, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'ansiblejob-author' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ansiblejob-author' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: USER }],
      });
      // A ServiceAccount of A with rights in B: what a token in a worker pod would carry.
      await admin.create(`/api/v1/namespaces/${a}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: B_ONLY } });
      operator = await runOperator(new KubeClient(recordingAccess(operatorRequests)), [a], {
        podOptions: { defaultImage: runnerImage, processImage: runnerImage, composeImage: runnerImage, statusPort: 8765 },
      });
    });
    afterAll(async () => {
      await operator?.stop();
      for (const namespace of [a, b]) if (namespace) await deleteNamespace(admin, namespace);
    });

    test('the user may create and get AnsibleJobs in A, and nothing else: no pods, no Secrets, nothing in B', async () => {
      const can = async (verb: string, resource: string, namespace: string) =>
        (await execa(kubectl!, ['auth', 'can-i', verb, resource, `--as=${USER}`, '--namespace', namespace], { env: { KUBECONFIG: process.env.KUBECONFIG }, reject: false })).stdout.trim();
      expect(await can('create', 'ansiblejobs.ajo.dev', a)).toBe('yes');
      for (const [verb, resource, namespace] of [
        ['create', 'pods', a], ['get', 'secrets', a], ['list', 'secrets', a], ['get', 'configmaps', a], ['update', 'ansiblejobs.ajo.dev/status', a],
        ['create', 'ansiblejobs.ajo.dev', b], ['get', 'secrets', b], ['get', 'configmaps', b], ['get', 'persistentvolumeclaims', b],
      ] as const) {
        expect([verb, resource, namespace, await can(verb, resource, namespace)]).toEqual([verb, resource, namespace, 'no']);
      }
    });

    test('every name field refuses a name with a slash, a .. or a namespace:name shape at admission', async () => {
      const fields = nameFieldsOfCrd();
      expect(fields.length).toBeGreaterThanOrEqual(15);
      // A job from a template in a queue names no object a pod mounts, so it is checked at admission only.
      const templates = [...jobTemplates(), { templateRef: { name: B_ONLY }, queue: B_ONLY }];
      const refusals: string[] = [];
      for (const [i, field] of fields.entries()) {
        const template = templates.find((spec) => locate(structuredClone(spec), field) !== undefined);
        expect([field, template !== undefined]).toEqual([field, true]);
        for (const [j, bad] of [`${b}/${B_ONLY}`, `../${b}/${B_ONLY}`, `${b}:${B_ONLY}`, `/${B_ONLY}`].entries()) {
          const spec = structuredClone(template!);
          locate(spec, field)!.set(bad);
          const result = await createAsUser(job(`refused-${i}-${j}`, spec));
          expect([field, bad, result.exitCode]).toEqual([field, bad, 1]);
          // The API server names the field it refused (arrays with their index).
          expect(result.stderr).toContain(field.replace(/\[\]/g, '[0]'));
          refusals.push(field);
        }
      }
      expect(new Set(refusals).size).toBe(fields.length);
    }, 240_000);

    test('accepted jobs naming B\'s objects: the operator sends no request outside A and none for Secrets, ConfigMaps or claims; its pods, in A, name exactly what was given', async () => {
      const templates = jobTemplates();
      for (const [i, spec] of templates.entries()) {
        const result = await createAsUser(job(`names-b-${i}`, spec));
        expect([i, result.exitCode, result.stderr]).toEqual([i, 0, '']);
      }
      const pods = await waitFor('a pod for every job', async () => {
        const list = await admin.get<{ items: PodObject[] }>(paths.pods(a), { query: { labelSelector: 'ajo.dev/job-name' } });
        return list.items.length >= templates.length ? list.items : undefined;
      }, 60_000);
      for (const pod of pods) {
        expect(pod.metadata.namespace).toBe(a);
        const refs = referencesOf(pod);
        const named = refs.filter((ref) => ref !== 'serviceaccount-token');
        // Whatever the operator adds itself (emptyDirs, downward API) names no object; everything named is B_ONLY, unqualified.
        expect([pod.metadata.name, named.filter((ref) => !ref.endsWith(` ${B_ONLY}`))]).toEqual([pod.metadata.name, []]);
        expect([pod.metadata.name, refs.includes('serviceaccount-token')]).toEqual([pod.metadata.name, false]);
        expect([pod.metadata.name, pod.spec.automountServiceAccountToken]).toEqual([pod.metadata.name, false]);
      }
      expect(referencesOf(pods.find((pod) => pod.metadata.name.startsWith('names-b-0-'))!)).toEqual([`pvc ${B_ONLY}`, `secret ${B_ONLY}`]);

      const outside = operatorRequests.filter((request) => {
        const [, requestPath] = request.split(' ');
        return !(requestPath!.startsWith(`/api/v1/namespaces/${a}/`) || requestPath!.startsWith(`/apis/ajo.dev/v1alpha1/namespaces/${a}/`));
      });
      expect(outside).toEqual([]);
      expect(operatorRequests.filter((request) => /\/(secrets|configmaps|persistentvolumeclaims|serviceaccounts)(\/|$)/.test(request))).toEqual([]);
      expect(operatorRequests.length).toBeGreaterThan(0);
    }, 120_000);

    const nodeSkip = (() => {
      if (!clusterTier().nodeRunsPods) return `needs a node that runs pods: ${clusterTier().nodeReason}`;
      try {
        return missingImagesSync(kubectl!).includes(runnerImage) ? `the node lacks ${runnerImage}: run images/build --load cluster` : null;
      } catch (error) {
        return `cannot list the nodes: ${String(error)}`;
      }
    })();
    testOrSkip('the kubelet resolves the names in A: the payload Secret that exists only in B is "not found"', nodeSkip, async () => {
      // No claim here: a pod naming a claim A lacks is never scheduled, so no kubelet would look.
      const result = await createAsUser(job('payload-in-b', { payload: { secret: { name: B_ONLY, key: 'stream' }, sha256: SHA } }));
      expect([result.exitCode, result.stderr]).toEqual([0, '']);
      const waiting = await waitFor('the Waiting condition of payload-in-b', async () => {
        const current = condition(await getJob(admin, a, 'payload-in-b'), 'Waiting');
        return current?.status === 'True' && current.reason === 'FailedMount' ? current : undefined;
      }, 240_000, 1000);
      expect(waiting.message).toContain(`secret "${B_ONLY}" not found`);
      expect((await getJob(admin, a, 'payload-in-b')).status?.phase).not.toBe('Running');
    }, 300_000);

    test('a podTemplate may not mount a host path, a volume type outside the restricted profile, or a service account token', async () => {
      const payload = { secret: { name: B_ONLY, key: 'stream' }, sha256: SHA };
      const cases: [string, Json][] = [
        ['hostpath', { volumes: [{ name: 'node', hostPath: { path: '/var/lib/kubelet/pods' } }] }],
        ['nfs', { volumes: [{ name: 'remote', nfs: { server: 'nfs.example', path: '/' } }] }],
        ['automount', { automountServiceAccountToken: true, serviceAccountName: B_ONLY }],
        ['projected-token', { volumes: [{ name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }] }],
      ];
      for (const [name, podSpec] of cases) {
        const result = await createAsUser(job(`template-${name}`, { payload, serviceAccountName: B_ONLY, podTemplate: { spec: podSpec } }));
        expect([name, result.exitCode, result.stderr]).toEqual([name, 0, '']);
      }
      for (const [name] of cases) {
        const done = await waitFor(`template-${name} to finish`, async () => {
          const current = await getJob(admin, a, `template-${name}`);
          return TERMINAL_PHASE_NAMES.has(current.status?.phase ?? '') ? current : undefined;
        }, 60_000);
        expect([name, done.status?.phase, condition(done, 'Finished')?.reason]).toEqual([name, 'Failed', 'PodTemplateRejected']);
        expect((await admin.get<{ items: unknown[] }>(paths.pods(a), { query: { labelSelector: `ajo.dev/job-name=template-${name}` } })).items).toEqual([]);
      }
    }, 120_000);
  });
});

