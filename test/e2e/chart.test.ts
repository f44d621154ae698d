/**
 * The chart and the examples without a cluster: one CRD source, helm lint and
 * template clean, values the schema refuses, RBAC that follows the values, and
 * example files that are what the generator makes from their payload dirs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { AnsibleJobSpec } from '../../operator/src/api/ansible-job.js';
import { describeOrSkip } from '../helpers/skip.js';
import { ajoCli, chartDir, examplesDir, findTool, repoDir, run } from './tools.js';

const helm = findTool('helm');
const helmMissing = helm ? null : 'helm is not installed and test/cluster/build-binaries has not built it (or set AJO_HELM)';

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[];
  spec?: Record<string, unknown>;
}

async function template(...sets: string[]): Promise<Manifest[]> {
  const args = ['template', 'e2e', chartDir, '--namespace', 'ajo-system', ...sets.flatMap((set) => ['--set', set])];
  const text = await run(helm!, args);
  return parseAllDocuments(text).map((doc) => doc.toJS() as Manifest).filter(Boolean);
}

const verbsFor = (manifests: Manifest[], kind: string, resource: string) =>
  manifests.filter((m) => m.kind === kind && m.metadata.name === 'e2e-ajo').flatMap((m) => m.rules ?? []).filter((rule) => rule.resources.includes(resource)).flatMap((rule) => rule.verbs);

describe('chart sources', () => {
  test('the chart ships the CRDs of crds/ byte for byte (crds/ is the one source)', () => {
    for (const file of ['ajo.dev_ansiblejobs.yaml', 'ajo.dev_ansibleschedules.yaml']) {
      const source = readFileSync(path.join(repoDir, 'crds', file));
      const shipped = readFileSync(path.join(chartDir, 'crds', file));
      expect([file, shipped.equals(source)]).toEqual([file, true]);
    }
  });

  test('the chart version, appVersion and the package version agree (images are tagged with it)', () => {
    const chart = readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8');
    const pkg = JSON.parse(readFileSync(path.join(repoDir, 'package.json'), 'utf8')) as { version: string };
    expect(chart).toContain(`appVersion: "${pkg.version}"`);
    expect(chart).toMatch(new RegExp(`^version: ${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
  });

  test('the payload example is what examples/kubernetes/generate.mjs makes from its payload dir', async () => {
    expect(ajoCli).toBeTruthy();
    const result = await execa(process.execPath, [path.join(examplesDir, 'generate.mjs'), '--check'], { reject: false });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });

  test('examples are manifests a person types: no base64 blob but in the one payload example, every AnsibleJob valid', () => {
    const files = readdirSync(examplesDir).filter((file) => file.endsWith('.yaml')).sort();
    expect(files).toEqual(['artifacts-pvc.yaml', 'async-poll.yaml', 'failing.yaml', 'fire-and-forget.yaml', 'from-configmap.yaml', 'from-git.yaml', 'hello-world.yaml', 'payload.yaml']);
    for (const file of files) {
      const docs = parseAllDocuments(readFileSync(path.join(examplesDir, file), 'utf8')).map((d) => d.toJS() as Manifest & { data?: Record<string, string> });
      const job = docs.find((d) => d.kind === 'AnsibleJob')!;
      const parsed = AnsibleJobSpec.safeParse(job.spec);
      expect([file, parsed.success ? 'valid' : parsed.error.message]).toEqual([file, 'valid']);
      const blobs = docs.filter((d) => d.data !== undefined && d.kind === 'Secret');
      if (file === 'payload.yaml') {
        const payload = (job.spec as { payload: { secret: { name: string }; sha256: string } }).payload;
        expect(payload.secret.name).toBe(blobs[0]!.metadata.name);
        expect(Buffer.from(blobs[0]!.data!.stream!, 'base64').toString('utf8')).toMatch(/^\{"kwargs": /);
      } else {
        expect([file, blobs.length, (job.spec as Record<string, unknown>).source !== undefined]).toEqual([file, 0, true]);
      }
    }
  });
});

describeOrSkip('chart rendering (helm lint, helm template)', helmMissing, () => {
  test('helm lint --strict passes', async () => {
    const output = await run(helm!, ['lint', '--strict', chartDir]);
    expect(output).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  test('defaults: namespaced RBAC, 2 replicas with leader election, hardened pod, probes, metrics Service', async () => {
    const manifests = await template();
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      ['Deployment', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
    );
    const deployment = manifests.find((m) => m.kind === 'Deployment') as unknown as {
      spec: { replicas: number; template: { spec: { securityContext: Record<string, unknown>; containers: Record<string, any>[] } } };
    };
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    const [container] = pod.containers;
    expect(container!.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(container!.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container!.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container!.args).not.toContain('--no-leader-elect');
    const env = Object.fromEntries((container!.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ AJO_NAMESPACES: 'ajo-system', AJO_RUNNER_IMAGE: 'ajo-runner:0.1.0', AJO_CONCURRENCY: '16', AJO_LOG_LEVEL: 'info' });
    expect(env.AJO_IMAGE_CLEANUP_ENDPOINT).toBeUndefined();
    expect(verbsFor(manifests, 'Role', 'secrets')).toEqual([]); // payload Secrets are owned by their job: no sweep lists them
    expect(verbsFor(manifests, 'Role', 'pods/proxy')).toEqual([]);
    expect(verbsFor(manifests, 'Role', 'ansiblejobs').sort()).toEqual(['create', 'delete', 'get', 'list', 'watch']);
    expect(verbsFor(manifests, 'Role', 'ansibleschedules').sort()).toEqual(['get', 'list', 'watch']);
    expect(verbsFor(manifests, 'Role', 'ansibleschedules/status')).toEqual(['update']);
    expect(verbsFor(manifests, 'Role', 'ansibleschedules/finalizers')).toEqual(['update']);
  });

  test('cluster-wide RBAC, proxy status, no sweeps: ClusterRole with pods/proxy and without secrets', async () => {
    const manifests = await template('rbac.clusterWide=true', 'statusVia=proxy', 'cleanup.interval=0');
    const roleName = 'e2e-ajo-ajo-system';
    const clusterRole = manifests.find((m) => m.kind === 'ClusterRole' && m.metadata.name === roleName)!;
    const verbs = (resource: string) => clusterRole.rules!.filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs);
    expect(verbs('pods/proxy')).toEqual(['get']);
    expect(verbs('secrets')).toEqual([]);
    expect(manifests.filter((m) => m.kind === 'Role').map((m) => m.metadata.name)).toEqual(['e2e-ajo-leader-election']);
    const deployment = JSON.stringify(manifests.find((m) => m.kind === 'Deployment'));
    expect(deployment).not.toContain('AJO_NAMESPACES');
  });

  test('watchNamespaces: one Role per namespace, and the operator is told the list', async () => {
    const manifests = await template('watchNamespaces={team-a,team-b}');
    expect(manifests.filter((m) => m.kind === 'Role' && m.metadata.name === 'e2e-ajo').map((m) => m.metadata.namespace)).toEqual(['team-a', 'team-b']);
    expect(JSON.stringify(manifests.find((m) => m.kind === 'Deployment'))).toContain('"name":"AJO_NAMESPACES","value":"team-a,team-b"');
  });

  test('artifacts on a PVC: a kept claim, mounted for the sweep with pattern and grace period', async () => {
    const manifests = await template('artifacts.storage=pvc', 'cleanup.gracePeriodMinutes=5');
    const claim = manifests.find((m) => m.kind === 'PersistentVolumeClaim')!;
    expect(claim.metadata.name).toBe('e2e-ajo-artifacts');
    const deployment = JSON.stringify(manifests.find((m) => m.kind === 'Deployment'));
    expect(deployment).toContain('"name":"AJO_ARTIFACTS_DIR","value":"/artifacts"');
    expect(deployment).toContain('"name":"AJO_CLEANUP_GRACE_PERIOD","value":"5"');
    expect(deployment).toContain('"claimName":"e2e-ajo-artifacts"');
  });

  test.each([
    [['logLevel=loud'], /logLevel/],
    [['cleanup.pattern=../etc'], /cleanup\/pattern/],
    [['concurrency=0'], /concurrency/],
    [['statusVia=carrier-pigeon'], /statusVia/],
    [['leaderElection.enabled=false'], /replicaCount > 1 needs leaderElection.enabled/],
    [['cleanup.interval=0', 'cleanup.images.endpoint=tcp://engine:2375'], /cleanup.images.endpoint needs cleanup.interval > 0/],
    [['unknownKey=1'], /additional properties 'unknownKey' not allowed|unknownKey/],
  ])('refuses %j', async (sets, message) => {
    const result = await execa(helm!, ['template', 'e2e', chartDir, ...sets.flatMap((set) => ['--set', set])], { reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  test('one replica without leader election renders --no-leader-elect', async () => {
    const manifests = await template('leaderElection.enabled=false', 'replicaCount=1');
    expect(JSON.stringify(manifests.find((m) => m.kind === 'Deployment'))).toContain('--no-leader-elect');
    expect(manifests.some((m) => m.kind === 'PodDisruptionBudget')).toBe(false);
  });
});
