/**
 * The operator's permissions and payload Secrets on the live cluster (issue #16 item 6):
 * the chart's RBAC objects, applied as rendered, give the operator's ServiceAccount exactly
 * what the table in docs/operator.md says (as `kubectl auth can-i --list` reports it, beyond
 * what every authenticated user may do) and nothing on Secrets; `ajo submit` makes the
 * payload Secret after its AnsibleJob (held until the Secret exists), owned by it, so the
 * garbage collector deletes it with the job; and a job whose Secret lands after its pod was
 * made (a hand-written job, or one released too early) waits for it and succeeds.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import type { RunningOperator } from '../../operator/src/manager/operator.js';
import { client, condition, createNamespace, deleteNamespace, describeCluster, describeWithNode, ensureCrd, getJob, paths, runOperator, waitFor, type JobObject } from '../integration/harness.js';
import { describeOrSkip } from '../helpers/skip.js';
import { ajoCli, chartDir, findTool, missingImagesSync, repoDir, runnerImage, TERMINAL_PHASE_NAMES } from './tools.js';

const kubectl = findTool('kubectl');
const helm = findTool('helm');
const toolsMissing = !kubectl ? 'kubectl is not installed (or set AJO_KUBECTL)' : !helm ? 'helm is not installed and test/cluster/build-binaries has not built it (or set AJO_HELM)' : null;

const kube = (args: string[], input?: string) =>
  execa(kubectl!, args, { env: { KUBECONFIG: process.env.KUBECONFIG }, ...(input !== undefined ? { input } : {}) }).then((r) => r.stdout);

// ------------------------------------------------------------------ the RBAC table

/** One permission: a resource as `kubectl auth can-i --list` spells it, a resource name ('' = any) and a verb. */
type Grant = string;
const grant = (resource: string, name: string, verb: string): Grant => `${resource} [${name}] ${verb}`;

interface TableRow {
  scope: 'watched namespaces' | 'release namespace';
  grants: Grant[];
}

/** The table under "## RBAC (least privilege)" in docs/operator.md. */
function documentedRbac(): TableRow[] {
  const doc = readFileSync(path.join(repoDir, 'docs', 'operator.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## RBAC (least privilege)'));
  const lines = section.split('\n');
  const first = lines.findIndex((line) => line.startsWith('| Scope |'));
  const rows: TableRow[] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [scope, resource, names, verbs] = line.split('|').slice(1, -1).map((cell) => cell.trim().replace(/`/g, ''));
    if (scope !== 'watched namespaces' && scope !== 'release namespace') throw new Error(`docs/operator.md RBAC table: unknown scope ${JSON.stringify(scope)}`);
    const nameList = names ? names.split(',').map((n) => n.trim()) : [''];
    rows.push({ scope, grants: nameList.flatMap((name) => verbs!.split(',').map((verb) => grant(resource!, name, verb.trim()))) });
  }
  if (rows.length === 0) throw new Error('docs/operator.md has no RBAC table');
  return rows;
}

/** `kubectl auth can-i --list` as grants (resource rows only; non-resource URLs are the same for everyone). */
async function canIList(serviceAccount: string, namespace: string): Promise<Set<Grant>> {
  const out = await kube(['auth', 'can-i', '--list', `--as=${serviceAccount}`, '--namespace', namespace]);
  const grants = new Set<Grant>();
  for (const line of out.split('\n').slice(1)) {
    const row = /^(\S*)\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$/.exec(line);
    if (!row) throw new Error(`unexpected line in kubectl auth can-i --list: ${JSON.stringify(line)}`);
    const [, resource, , names, verbs] = row;
    if (!resource) continue;
    for (const name of names ? names.split(' ') : ['']) for (const verb of verbs!.split(' ')) grants.add(grant(resource, name, verb));
  }
  return grants;
}

const minus = (a: Set<Grant>, b: Set<Grant>) => [...a].filter((g) => !b.has(g)).sort();

describeCluster('the operator\'s RBAC on the live API server matches docs/operator.md', () => {
  describeOrSkip('chart-rendered RBAC objects', toolsMissing, () => {
    const id = randomBytes(3).toString('hex');
    const release = `ajo-rbac-${id}`;
    const watched = `ajo-rbac-w-${id}`;
    const other = `ajo-rbac-o-${id}`;
    const namespaces = [release, watched, other];

    /** helm template, then kubectl apply of the ServiceAccount and RBAC objects only. */
    async function applyChartRbac(name: string, sets: string[]): Promise<string[]> {
      const text = (await execa(helm!, ['template', name, chartDir, '--namespace', release, ...sets.flatMap((s) => ['--set', s])])).stdout;
      const docs = parseAllDocuments(text).map((doc) => doc.toJS() as { kind: string }).filter(Boolean);
      const rbac = docs.filter((doc) => ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(doc.kind));
      // The default chart is namespaced: a cluster-scoped object here would outlive the namespaces.
      expect(rbac.filter((doc) => doc.kind.startsWith('Cluster'))).toEqual([]);
      // Every rendered object names its namespace (the release's, or a watched one).
      await kube(['apply', '-f', '-'], rbac.map((doc) => JSON.stringify(doc)).join('\n'));
      return rbac.map((doc) => doc.kind);
    }

    beforeAll(async () => {
      for (const namespace of namespaces) await kube(['create', 'namespace', namespace]);
      await kube(['create', 'serviceaccount', 'baseline', '--namespace', release]);
    });
    afterAll(async () => {
      for (const namespace of namespaces) await kube(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
    });

    test('the default chart: in its namespace exactly the table\'s rows, in another namespace nothing; no verb on Secrets', async () => {
      const kinds = await applyChartRbac('dflt', []);
      expect(kinds.sort()).toEqual(['Role', 'Role', 'RoleBinding', 'RoleBinding', 'ServiceAccount']);
      const operator = `system:serviceaccount:${release}:dflt-ajo`;
      const baseline = await canIList(`system:serviceaccount:${release}:baseline`, release);
      const table = documentedRbac();
      const granted = minus(await canIList(operator, release), baseline);
      expect(granted).toEqual([...new Set(table.flatMap((row) => row.grants))].sort());
      expect(granted.filter((g) => g.startsWith('secrets '))).toEqual([]);
      expect(minus(await canIList(operator, other), baseline)).toEqual([]);
      const canListSecrets = await execa(kubectl!, ['auth', 'can-i', 'list', 'secrets', `--as=${operator}`, '--namespace', release], { env: { KUBECONFIG: process.env.KUBECONFIG }, reject: false });
      expect(canListSecrets.stdout.trim()).toBe('no');
    });

    test('watchNamespaces elsewhere: the table\'s scopes are where the chart puts each row', async () => {
      await applyChartRbac('split', [`watchNamespaces={${watched}}`]);
      const operator = `system:serviceaccount:${release}:split-ajo`;
      const baseline = await canIList(`system:serviceaccount:${release}:baseline`, release);
      const table = documentedRbac();
      const rowsOf = (scope: TableRow['scope']) => table.filter((row) => row.scope === scope).flatMap((row) => row.grants).sort();
      expect(minus(await canIList(operator, watched), baseline)).toEqual(rowsOf('watched namespaces'));
      expect(minus(await canIList(operator, release), baseline)).toEqual(rowsOf('release namespace'));
      expect(minus(await canIList(operator, other), baseline)).toEqual([]);
    });
  });
});

// ------------------------------------------------------------------ payload Secrets

const PLAYBOOK = ['- hosts: localhost', '  gather_facts: false', '  tasks:', '    - ansible.builtin.debug:', '        msg: payload arrived', ''].join('\n');

function privateDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ajo-rbac-pdd-'));
  mkdirSync(path.join(dir, 'project'));
  mkdirSync(path.join(dir, 'inventory'));
  writeFileSync(path.join(dir, 'project', 'main.yml'), PLAYBOOK);
  writeFileSync(path.join(dir, 'inventory', 'hosts'), 'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
  return dir;
}

interface SecretObject {
  metadata: { name: string; labels?: Record<string, string>; ownerReferences?: Record<string, unknown>[]; deletionTimestamp?: string };
}

const cliBuilt = () => {
  try {
    readFileSync(ajoCli);
    return null;
  } catch {
    return `${ajoCli} is missing: run npm run build`;
  }
};

describeCluster('ajo submit: the payload Secret is created after its AnsibleJob and owned by it', () => {
  describeOrSkip('with the built CLI', cliBuilt(), () => {
    const k = client();
    let namespace = '';
    const dirs: string[] = [];
    beforeAll(async () => {
      await ensureCrd(k);
      namespace = await createNamespace(k, 'ajo-owned');
    });
    afterAll(async () => {
      if (namespace) await deleteNamespace(k, namespace);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    test('the Secret carries an ownerReference to the job\'s uid, and deleting the job deletes the Secret (garbage collector)', async () => {
      const dir = privateDataDir();
      dirs.push(dir);
      const submitted = await execa(process.execPath, [ajoCli, 'submit', dir, '-p', 'main.yml', '--namespace', namespace, '--name', 'owned'], {
        env: { KUBECONFIG: process.env.KUBECONFIG },
        reject: false,
      });
      expect([submitted.exitCode, submitted.stdout]).toEqual([0, 'owned']);
      const job = await getJob(k, namespace, 'owned');
      // Held while its Secret was made, released after.
      expect(job.spec.suspend).toBe(false);
      const secret = await k.get<SecretObject>(paths.secret(namespace, 'owned-payload'));
      expect(secret.metadata.ownerReferences).toEqual([{ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', name: 'owned', uid: job.metadata.uid, blockOwnerDeletion: false }]);
      expect(secret.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'ajo-submit', 'ajo.dev/job-name': 'owned' });

      await k.delete(paths.ansibleJob(namespace, 'owned'));
      await waitFor('the garbage collector to delete the payload Secret', async () => ((await k.getOrUndefined(paths.secret(namespace, 'owned-payload'))) ? undefined : true), 120_000, 500);
    }, 180_000);
  });
});

// ------------------------------------------------------------------ a Secret that lands late

const imagesMissing = (): string | null => {
  if (!kubectl) return 'kubectl is not installed (or set AJO_KUBECTL)';
  if (cliBuilt()) return cliBuilt();
  try {
    const missing = missingImagesSync(kubectl).filter((image) => image === runnerImage);
    return missing.length === 0 ? null : `the node lacks ${runnerImage}: run images/build --load cluster`;
  } catch (error) {
    return `cannot list the nodes: ${String(error)}`;
  }
};

describeWithNode('a job whose payload Secret lands after its pod was made waits for it, then runs', () => {
  describeOrSkip('with the runner image on the node', imagesMissing(), () => {
    const k = client();
    let namespace = '';
    let operator: RunningOperator | undefined;
    const dirs: string[] = [];
    beforeAll(async () => {
      await ensureCrd(k);
      namespace = await createNamespace(k, 'ajo-late');
      operator = await runOperator(k, [namespace], {
        podOptions: { defaultImage: runnerImage, processImage: runnerImage, composeImage: runnerImage, statusPort: 8765 },
      });
    });
    afterAll(async () => {
      await operator?.stop();
      if (namespace) await deleteNamespace(k, namespace);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    test('Waiting (FailedMount) while the Secret is missing; Succeeded in one attempt once it exists', async () => {
      const dir = privateDataDir();
      dirs.push(dir);
      const stream = (await execa(process.execPath, [ajoCli, 'transmit', dir, '-p', 'main.yml'], { encoding: 'buffer' })).stdout as unknown as Uint8Array;
      const sha256 = createHash('sha256').update(stream).digest('hex');
      // What `ajo submit` does, with the pause between its two creates stretched until the kubelet has failed the mount.
      const created = await k.create<JobObject>(paths.ansibleJobs(namespace), {
        apiVersion: 'ajo.dev/v1alpha1',
        kind: 'AnsibleJob',
        metadata: { name: 'late' },
        spec: { payload: { secret: { name: 'late-payload', key: 'stream' }, sha256 } },
      });
      const waiting = await waitFor('the Waiting condition', async () => {
        const waitingNow = condition(await getJob(k, namespace, 'late'), 'Waiting');
        return waitingNow?.status === 'True' ? waitingNow : undefined;
      }, 240_000, 500);
      expect(waiting).toMatchObject({ reason: 'FailedMount', message: expect.stringContaining('"late-payload" not found') });

      await k.create(paths.secrets(namespace), {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'late-payload', ownerReferences: [{ apiVersion: 'ajo.dev/v1alpha1', kind: 'AnsibleJob', name: 'late', uid: created.metadata.uid, blockOwnerDeletion: false }] },
        type: 'Opaque',
        immutable: true,
        data: { stream: Buffer.from(stream).toString('base64') },
      });
      // The kubelet retries the mount on its own backoff (at most about two minutes between tries).
      const done = await waitFor('the job to finish', async () => {
        const job = await getJob(k, namespace, 'late');
        return TERMINAL_PHASE_NAMES.has(job.status?.phase ?? '') ? job : undefined;
      }, 420_000, 1000);
      expect(done.status).toMatchObject({ phase: 'Succeeded', rc: 0, attempts: 1 });
      expect(condition(done, 'Waiting')).toMatchObject({ status: 'False' });
    }, 720_000);
  });
});
