/**
 * The chart's NetworkPolicies, enforced: a running job's worker pod serves its status document
 * (stdout tail included) on the status port. With the policies (the chart's default), a pod in
 * another namespace cannot connect to it while the operator's pod can, the operator keeps
 * reading the document (the job's stdoutTail while it runs) and the job Succeeds; without them
 * (networkPolicy.enabled=false) the same pod reads the document.
 *
 * Runs against the local test cluster, whose NetworkPolicy agent (kube-network-policies, started
 * by test/cluster/up) enforces them; skipped, with the reason, where that agent does not run.
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { localClusterInfo } from '../cluster/local-cluster.js';
import { parseAllDocuments } from 'yaml';
import { describeOrSkip } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';
import { chartDir, describeE2e, findTool, isLocalCluster, kubectlJson, provideImages, run, runnerImage, type E2eReady } from './tools.js';

const SUITE = 'e2e: NetworkPolicies keep a running job\'s status port to the operator';
const STATUS_PORT = 8765;
/** Long enough for a SYN that is answered on a loaded machine; a dropped one is never answered. */
const PROBE_TIMEOUT_S = 10;

// ---------------------------------------------------------------- the chart, rendered

interface Policy {
  kind: string;
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: Record<string, unknown>;
    policyTypes: string[];
    ingress?: { from?: Record<string, any>[]; ports?: { protocol: string; port: number }[] }[];
    egress?: { to?: Record<string, any>[]; ports?: { protocol: string; port: number }[] }[];
  };
}

const helm = findTool('helm');

describeOrSkip('chart: the NetworkPolicies it renders', helm ? null : 'helm is not installed and test/cluster/build-binaries has not built it (or set AJO_HELM)', () => {
  const render = async (...sets: string[]) => {
    const text = await run(helm!, ['template', 'e2e', chartDir, '--namespace', 'ajo-system', ...sets.flatMap((set) => ['--set', set])]);
    return parseAllDocuments(text).map((doc) => doc.toJS() as Policy).filter((m) => m?.kind === 'NetworkPolicy');
  };
  const names = (policies: Policy[]) => policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();

  test('defaults: workers of the release namespace take the status port from the operator only; the operator reaches workers, the API server and DNS', async () => {
    const policies = await render();
    expect(names(policies)).toEqual(['ajo-system/e2e-ajo-operator', 'ajo-system/e2e-ajo-workers']);
    const workers = policies.find((p) => p.metadata.name === 'e2e-ajo-workers')!.spec;
    expect(workers.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/managed-by': 'ajo-operator' }, matchExpressions: [{ key: 'ajo.dev/job-uid', operator: 'Exists' }] });
    expect(workers.policyTypes).toEqual(['Ingress']);
    expect(workers.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ajo-system' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ajo', 'app.kubernetes.io/instance': 'e2e', 'app.kubernetes.io/component': 'operator' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 8765 }],
      },
    ]);
    const operator = policies.find((p) => p.metadata.name === 'e2e-ajo-operator')!.spec;
    expect(operator.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(operator.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8080 }] }]);
    expect(operator.egress).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['ajo-system'] }] },
            podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'ajo-operator' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 8765 }],
      },
      { ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }] },
      { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
    ]);
  });

  test('watchNamespaces: the workers\' policy in each, the operator\'s egress to them; statusPort and the API server\'s address follow the values', async () => {
    const policies = await render('watchNamespaces={team-a,team-b}', 'statusPort=9000', 'networkPolicy.apiServer.cidrs={10.0.0.1/32}', 'networkPolicy.dns=false');
    expect(names(policies)).toEqual(['ajo-system/e2e-ajo-operator', 'team-a/e2e-ajo-workers', 'team-b/e2e-ajo-workers']);
    const operator = policies.find((p) => p.metadata.name === 'e2e-ajo-operator')!.spec;
    expect(operator.egress).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] }] },
            podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'ajo-operator' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 9000 }],
      },
      { to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 6443 }] },
    ]);
    expect(policies.find((p) => p.metadata.namespace === 'team-a')!.spec.ingress![0]!.ports).toEqual([{ protocol: 'TCP', port: 9000 }]);
  });

  test('rbac.clusterWide: the workers\' policy where networkPolicy.jobNamespaces says; none without it (NOTES.txt warns)', async () => {
    expect(names(await render('rbac.clusterWide=true', 'networkPolicy.jobNamespaces={jobs}'))).toEqual(['ajo-system/e2e-ajo-operator', 'jobs/e2e-ajo-workers']);
    const bare = await render('rbac.clusterWide=true');
    expect(names(bare)).toEqual(['ajo-system/e2e-ajo-operator']);
    expect(bare[0]!.spec.egress![0]!.to).toEqual([{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'ajo-operator' } } }]);
  });

  test('networkPolicy.enabled=false renders none; a bad value is refused by the schema', async () => {
    expect(await render('networkPolicy.enabled=false')).toEqual([]);
    const bad = await execa(helm!, ['template', 'e2e', chartDir, '--set', 'networkPolicy.apiServer.ports={0}'], { reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain("at '/networkPolicy/apiServer/ports/0': minimum");
  });
});

// ---------------------------------------------------------------- enforced, on the test cluster

describeE2e(SUITE, 'needs kubectl, helm, our images and the local test cluster with its NetworkPolicy agent', suite, agentMissing);

/** Why the policies would not be enforced here, if they would not. */
function agentMissing(): string | undefined {
  if (!isLocalCluster()) return 'enforcement is checked on the local test cluster, whose NetworkPolicy agent test/cluster/up starts (kube-network-policies)';
  const pidFile = path.join(localClusterInfo().stateDir, 'run', 'kube-network-policies.pid');
  const pid = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
  if (!pid || !existsSync(`/proc/${pid}`)) return 'the test cluster\'s NetworkPolicy agent (kube-network-policies) is not running: run test/cluster/up (without AJO_NETWORK_POLICY=off)';
  return undefined;
}

interface AnsibleJob {
  status?: { phase?: string; podName?: string; stdoutTail?: string };
}

/** Prints `HTTP <status> <body>` or `ERR <reason>`; never fails, so the caller sees which. */
const PYTHON_PROBE = [
  'import sys, urllib.request',
  'try:',
  '    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r: print("HTTP", r.status, r.read().decode())',
  'except Exception as e: print("ERR", type(e).__name__, e)',
].join('\n');
/** The same from the operator's pod, which has node but no shell or python. */
const NODE_PROBE = [
  'fetch(process.argv[1], { signal: AbortSignal.timeout(Number(process.argv[2]) * 1000) })',
  '  .then(async (r) => console.log("HTTP", r.status, await r.text()), (e) => console.log("ERR", e.name, e.cause?.code ?? e.message));',
].join('\n');

function suite({ tools, plan }: E2eReady) {
  const id = randomBytes(3).toString('hex');
  const namespace = `ajo-netpol-${id}`;
  const otherNamespace = `ajo-netpol-other-${id}`;
  const release = 'ajo-netpol';
  const kubectl = (...args: string[]) => run(tools.kubectl, ['--namespace', namespace, ...args]);
  const json = <T>(...args: string[]) => kubectlJson<T>(tools, ['--namespace', namespace, ...args]);

  beforeAll(async () => {
    await provideImages(plan, tools);
    for (const ns of [namespace, otherNamespace]) await run(tools.kubectl, ['create', 'namespace', ns]);
    // The chart's defaults: networkPolicy.enabled is true.
    await run(tools.helm, ['install', release, chartDir, '--namespace', namespace, '--wait', '--timeout', '5m', '--set', 'replicaCount=1']);
    // Someone else's pod: python3 from the runner image, in a namespace of its own.
    await run(tools.kubectl, ['--namespace', otherNamespace, 'run', 'prober', `--image=${runnerImage}`, '--image-pull-policy=IfNotPresent', '--restart=Never', '--command', '--', 'sleep', '3600']);
    await run(tools.kubectl, ['--namespace', otherNamespace, 'wait', '--for=condition=Ready', 'pod/prober', '--timeout=300s']);
  }, 1_200_000);

  afterAll(async () => {
    await run(tools.helm, ['uninstall', release, '--namespace', namespace, '--ignore-not-found']).catch(() => undefined);
    for (const ns of [namespace, otherNamespace]) await run(tools.kubectl, ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']).catch(() => undefined);
  }, 120_000);

  /** A job whose play prints `marker`, then waits for a file that the test creates in its worker. */
  const startJob = async (name: string, marker: string) => {
    const job = {
      apiVersion: 'ajo.dev/v1alpha1',
      kind: 'AnsibleJob',
      metadata: { name },
      spec: {
        source: {
          project: {
            inline: [
              {
                path: 'site.yml',
                content: [
                  '- hosts: all',
                  '  gather_facts: false',
                  '  tasks:',
                  `    - ansible.builtin.debug: { msg: ${marker} }`,
                  '    - ansible.builtin.wait_for: { path: /home/ajo/release, timeout: 1800 }',
                  '',
                ].join('\n'),
              },
            ],
          },
          playbook: 'site.yml',
          inventory: { inline: 'localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"\n' },
        },
      },
    };
    await run(tools.kubectl, ['--namespace', namespace, 'apply', '-f', '-'], { input: JSON.stringify(job) });
    // The marker in status.stdoutTail while the play waits: the operator read the status document.
    return waitFor(
      `${name}: the operator to read the status document of the running job`,
      async () => {
        const { status } = await json<AnsibleJob>('get', 'ansiblejob', name);
        return status?.phase === 'Running' && status.podName && status.stdoutTail?.includes(marker) ? status.podName : undefined;
      },
      600_000,
      1_000,
    );
  };

  const finishJob = async (name: string, podName: string) => {
    await kubectl('exec', podName, '-c', 'worker', '--', 'touch', '/home/ajo/release');
    return waitFor(
      `${name} to finish`,
      async () => {
        const { status } = await json<AnsibleJob>('get', 'ansiblejob', name);
        return status?.phase && ['Succeeded', 'Failed', 'TimedOut', 'Cancelled'].includes(status.phase) ? status.phase : undefined;
      },
      600_000,
      1_000,
    );
  };

  const statusUrl = async (podName: string) => {
    const pod = await json<{ status?: { podIP?: string } }>('get', 'pod', podName);
    if (!pod.status?.podIP) throw new Error(`pod ${podName} has no IP`);
    return `http://${pod.status.podIP}:${STATUS_PORT}/status`;
  };
  const probeFromOtherNamespace = (url: string) =>
    run(tools.kubectl, ['--namespace', otherNamespace, 'exec', 'prober', '--', 'python3', '-c', PYTHON_PROBE, url, String(PROBE_TIMEOUT_S)]);
  const probeFromOperator = (url: string) =>
    kubectl('exec', `deploy/${release}`, '-c', 'operator', '--', 'node', '-e', NODE_PROBE, url, String(PROBE_TIMEOUT_S));

  test('with the policies: another namespace\'s pod cannot reach the status port, the operator can, and the job Succeeds', async () => {
    const policies = await json<{ items: { metadata: { name: string } }[] }>('get', 'networkpolicies');
    expect(policies.items.map((policy) => policy.metadata.name).sort()).toEqual([`${release}-operator`, `${release}-workers`]);

    const marker = `netpol-on-${id}`;
    const podName = await startJob('with-policies', marker);
    const url = await statusUrl(podName);

    // The port is up and serves the document to the operator's pod...
    const fromOperator = await probeFromOperator(url);
    expect(fromOperator).toMatch(/^HTTP 200 /);
    expect(fromOperator).toContain(marker);
    // ...and another namespace's pod gets no answer at all: its SYN is dropped.
    const fromOther = await probeFromOtherNamespace(url);
    expect(fromOther).toMatch(/^ERR .*timed out/);

    expect(await finishJob('with-policies', podName)).toBe('Succeeded');
  }, 1_200_000);

  test('without them (networkPolicy.enabled=false), the same pod reads the status document', async () => {
    await run(tools.helm, ['upgrade', release, chartDir, '--namespace', namespace, '--reuse-values', '--set', 'networkPolicy.enabled=false', '--wait', '--timeout', '5m']);
    const policies = await json<{ items: unknown[] }>('get', 'networkpolicies');
    expect(policies.items).toEqual([]);

    const marker = `netpol-off-${id}`;
    const podName = await startJob('without-policies', marker);
    const url = await statusUrl(podName);
    // The agent learns of the deleted policies through its watch; until then a probe may still
    // be dropped, so this waits for the first answer (a policy it still held would never give one).
    const fromOther = await waitFor('an answer to the pod in another namespace', async () => {
      const out = await probeFromOtherNamespace(url);
      return out.startsWith('HTTP') ? out : undefined;
    }, 180_000, 1_000);
    expect(fromOther).toMatch(/^HTTP 200 /);
    expect(fromOther).toContain(marker);

    expect(await finishJob('without-policies', podName)).toBe('Succeeded');
  }, 1_200_000);
}
