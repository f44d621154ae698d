/**
 * What the e2e suites drive the cluster with: the kubectl and helm binaries
 * (the user's tools, not our client library, so that the checks are the ones a
 * user would make), the images built by images/build, and small polling helpers.
 */
import { execa, type Options } from 'execa';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { localClusterInfo } from '../cluster/local-cluster.js';
import { clusterTier, describeWithNode } from '../cluster/tier.js';
import { describeOrSkip } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

/** Between two kubectl probes: each spawns a process. */
export const KUBECTL_POLL_MS = 500;

/** The phases an AnsibleJob ends in (api/ansible-job.ts TERMINAL_PHASES), as the strings kubectl prints. */
export const TERMINAL_PHASE_NAMES: ReadonlySet<string> = new Set(['Succeeded', 'Failed', 'TimedOut', 'Cancelled']);

/** The median of some samples (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const chartDir = path.join(repoDir, 'charts', 'ajo');
export const examplesDir = path.join(repoDir, 'examples', 'kubernetes');
export const ajoCli = path.join(repoDir, 'operator', 'dist', 'cli', 'main.js');
export const version: string = (JSON.parse(readFileSync(path.join(repoDir, 'package.json'), 'utf8')) as { version: string }).version;

export const runnerImage = `ajo-runner:${version}`;
export const operatorImage = `ajo-operator:${version}`;
/** How the kubelet names them once imported (Docker Hub's library namespace). */
const qualified = (image: string) => `docker.io/library/${image}`;

const isExecutable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, name)).find(isExecutable);
}

function localBinDir(): string | undefined {
  try {
    return localClusterInfo().binDir;
  } catch {
    return undefined;
  }
}

/** kubectl/helm: $AJO_KUBECTL/$AJO_HELM, the test cluster's build (same version as the server), then PATH. */
export function findTool(name: 'kubectl' | 'helm'): string | undefined {
  const override = process.env[`AJO_${name.toUpperCase()}`];
  if (override) return override;
  const built = localBinDir();
  if (built && isExecutable(path.join(built, name))) return path.join(built, name);
  return onPath(name);
}

export interface Tools {
  kubectl: string;
  helm: string;
}

/** The tools, or why the suite cannot run. */
export function e2eTools(): Tools | { reason: string } {
  const kubectl = findTool('kubectl');
  const helm = findTool('helm');
  if (!helm) return { reason: 'helm is not installed and test/cluster/build-binaries has not built it (or set AJO_HELM)' };
  if (!kubectl) return { reason: 'kubectl is not installed (or set AJO_KUBECTL)' };
  if (!existsSync(ajoCli)) return { reason: `${ajoCli} is missing: run npm run build` };
  return { kubectl, helm };
}

export async function run(file: string, args: string[], options: Options = {}): Promise<string> {
  const result = await execa(file, args, { env: { KUBECONFIG: process.env.KUBECONFIG }, timeout: 600_000, ...options });
  return String(result.stdout);
}

export async function kubectlJson<T>(tools: Tools, args: string[]): Promise<T> {
  return JSON.parse(await run(tools.kubectl, [...args, '-o', 'json'])) as T;
}

/** An Event as the e2e suites read it. */
export interface KubeEvent {
  type: string;
  reason: string;
  message?: string;
}

/** The Events of AnsibleJob `name` in `namespace`, as kubectl lists them now. */
export async function jobEvents(tools: Tools, namespace: string, name: string): Promise<KubeEvent[]> {
  const list = await kubectlJson<{ items: KubeEvent[] }>(tools, ['--namespace', namespace, 'get', 'events', '--field-selector', `involvedObject.kind=AnsibleJob,involvedObject.name=${name}`]);
  return list.items;
}

/**
 * The job's Events once every one of `reasons` is among them. The operator creates a
 * transition's Event after the status write that records it, so a job read as finished may
 * not have its last Event yet: wait for it rather than list the Events once.
 */
export function jobEventsWith(tools: Tools, namespace: string, name: string, reasons: string[], timeoutMs = 60_000): Promise<KubeEvent[]> {
  return waitFor(`Events ${reasons.join(', ')} of AnsibleJob ${name}`, async () => {
    const events = await jobEvents(tools, namespace, name);
    return reasons.every((reason) => events.some((event) => event.reason === reason)) ? events : undefined;
  }, timeoutMs, KUBECTL_POLL_MS);
}

// ---------------------------------------------------------------- images

interface NodeList {
  items: { metadata: { name: string }; status?: { images?: { names?: string[] }[] } }[];
}

/** The images every node reports having (node.status.images), so nothing is pulled. */
export function missingImagesSync(kubectl: string): string[] {
  const nodes = JSON.parse(execFileSync(kubectl, ['get', 'nodes', '-o', 'json'], { encoding: 'utf8', env: process.env })) as NodeList;
  const wanted = [runnerImage, operatorImage];
  return wanted.filter((image) =>
    nodes.items.length === 0 || nodes.items.some((node) => !(node.status?.images ?? []).some((entry) => (entry.names ?? []).includes(qualified(image)))),
  );
}

const imagesCacheDir = () => path.join(process.env.AJO_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'ajo'), 'images', version);

/** True when KUBECONFIG names the test cluster of test/cluster (whose node we can load images into). */
export function isLocalCluster(): boolean {
  try {
    return path.resolve(process.env.KUBECONFIG ?? '') === path.resolve(localClusterInfo().kubeconfig);
  } catch {
    return false;
  }
}

/** Set by test/e2e/kind.sh: a directory of this machine that the kind node mounts at the same path (test/kind/cluster.yaml extraMounts). */
export const NODE_SHARED_DIR_ENV = 'AJO_E2E_NODE_SHARED_DIR';

/**
 * A directory of this machine that the node sees at the same path, for hostPath volumes whose
 * files the test reads back: the temp dir on the local test cluster (its node is this machine),
 * AJO_E2E_NODE_SHARED_DIR where it is set (kind.sh mounts one into its node), else undefined.
 */
export function nodeSharedDir(): string | undefined {
  const given = process.env[NODE_SHARED_DIR_ENV];
  if (given !== undefined && given !== '') {
    if (!path.isAbsolute(given) || !existsSync(given)) throw new Error(`${NODE_SHARED_DIR_ENV}=${given}: not an existing absolute directory`);
    return given;
  }
  return isLocalCluster() ? tmpdir() : undefined;
}

export type ImagePlan = { action: 'none' } | { action: 'load'; archives: string[] } | { action: 'build' } | { action: 'skip'; reason: string };

/**
 * What it takes to have our images on the node: nothing, loading the archives
 * images/build left in its cache, or building them (the test cluster only,
 * where we can reach the node's containerd; for kind, test/e2e/kind.sh builds).
 */
export function imagePlan(kubectl: string): ImagePlan {
  let missing: string[];
  try {
    missing = missingImagesSync(kubectl);
  } catch (error) {
    return { action: 'skip', reason: `cannot list the nodes: ${String(error)}` };
  }
  // On the local cluster the node may hold images of older code under the same tag: the archives'
  // inputs digest tells, and stale ones are rebuilt, so that an e2e run tests this code.
  const current = isLocalCluster() && archivesAreCurrent(imagesCacheDir());
  if (missing.length === 0 && (current || !isLocalCluster())) return { action: 'none' };
  const hint =
    missing.length > 0
      ? `the node lacks ${missing.join(', ')}: run images/build --load cluster (or --load kind)`
      : 'the images on the node were built from other code than this (images/build --inputs-digest differs): run images/build --load cluster';
  if (!isLocalCluster()) return { action: 'skip', reason: hint };
  const archives = ['runner', 'operator'].map((name) => path.join(imagesCacheDir(), `ajo-${name}-${version}.tar`));
  if (archives.every((archive) => existsSync(archive)) && current) return { action: 'load', archives };
  if (process.env.AJO_E2E_BUILD_IMAGES === '0') return { action: 'skip', reason: `${hint} (AJO_E2E_BUILD_IMAGES=0 forbids building them here)` };
  if (process.getuid?.() !== 0) return { action: 'skip', reason: `${hint} (building needs root)` };
  if (!onPath('debootstrap')) return { action: 'skip', reason: `${hint} (building needs debootstrap: apt-get install debootstrap)` };
  return { action: 'build' };
}

/**
 * Whether the cached archives were built from what this run would build them from: the
 * version alone does not say, and loading images of older code would test that code.
 */
function archivesAreCurrent(cacheDir: string): boolean {
  let recorded: string;
  try {
    recorded = readFileSync(path.join(cacheDir, 'inputs.sha256'), 'utf8').trim();
  } catch {
    return false;
  }
  const current = execFileSync(path.join(repoDir, 'images', 'build'), ['--inputs-digest'], { encoding: 'utf8' }).trim();
  return recorded === current;
}

/** Carries out the plan; then waits until the kubelet reports the images. */
export async function provideImages(plan: ImagePlan, tools: Tools): Promise<void> {
  if (plan.action === 'load') {
    await run(path.join(repoDir, 'test', 'cluster', 'load-image'), plan.archives, { stderr: 'inherit' });
  } else if (plan.action === 'build') {
    // npm test has just compiled operator/dist: --no-compile leaves it alone for the suites using it.
    console.log('e2e: building the images (images/build --no-compile --load cluster); the first build on a machine also debootstraps the base, a few minutes');
    const started = Date.now();
    await run(path.join(repoDir, 'images', 'build'), ['--no-compile', '--load', 'cluster'], { stderr: 'inherit', timeout: 1_800_000 });
    console.log(`e2e: images built and loaded in ${Math.round((Date.now() - started) / 1000)} s`);
  } else {
    return;
  }
  // The kubelet refreshes node.status.images on its status updates (every 10 s or so).
  await waitFor('the node to report the loaded images', async () => (missingImagesSync(tools.kubectl).length === 0 ? true : undefined), 120_000, 2000);
}

/**
 * A hostPath PersistentVolume bound in advance to one claim (the local test cluster has no
 * provisioner). Retained: the suite deletes it, and the directory, itself.
 */
export function hostPathVolume(name: string, claim: { namespace: string; name: string }, dir: string, options: { accessMode: 'ReadWriteOnce' | 'ReadWriteMany'; create: boolean }) {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels: { 'ajo.test/suite': 'e2e' } },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: [options.accessMode],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      claimRef: claim,
      hostPath: { path: dir, type: options.create ? 'DirectoryOrCreate' : 'Directory' },
    },
  };
}

/**
 * Milliseconds from `apply()` to kubectl's own watch seeing the job's pod past Pending (a fast pod
 * may be reported Succeeded without a Running line between). The watch starts before the apply
 * and is given a second to settle; the clock starts at the apply.
 */
export async function timeToPodPastPending(tools: Tools, namespace: string, jobName: string, apply: () => Promise<unknown>, timeoutMs = 180_000, selector = `ajo.dev/job-name=${jobName}`): Promise<number> {
  const watcher = execa(tools.kubectl, ['--namespace', namespace, 'get', 'pods', '-l', selector, '--watch', '-o', 'jsonpath={.status.phase}{"\\n"}'], {
    env: { KUBECONFIG: process.env.KUBECONFIG },
    reject: false,
    buffer: false,
  });
  try {
    const pastPending = new Promise<number>((resolve, reject) => {
      let seen = '';
      watcher.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.split('\n').some((phase) => phase !== '' && phase !== 'Pending')) resolve(performance.now());
      });
      setTimeout(() => reject(new Error(`${jobName}: no running pod in ${timeoutMs / 1000} s (kubectl saw: ${JSON.stringify(seen)})`)), timeoutMs).unref();
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const started = performance.now();
    await apply();
    return (await pastPending) - started;
  } finally {
    watcher.kill();
  }
}

export interface E2eReady {
  tools: Tools;
  plan: ImagePlan;
}

/**
 * Declares an e2e suite that needs a node that runs pods, kubectl, helm and our images, plus what
 * `extraNeed` checks (its reason when unmet). The node decides first (describeWithNode prints why
 * it is missing); then the tools, the extra need and the images. Where anything is missing the
 * suite is skipped loudly, with the reason; `needs` names it all for the skipped placeholder.
 */
export function describeE2e(name: string, needs: string, body: (ready: E2eReady) => void, extraNeed: () => string | undefined = () => undefined): void {
  const preconditions = (): E2eReady | { reason: string } => {
    const tools = e2eTools();
    if ('reason' in tools) return tools;
    const unmet = extraNeed();
    if (unmet) return { reason: unmet };
    const plan = imagePlan(tools.kubectl);
    if (plan.action === 'skip') return { reason: plan.reason };
    return { tools, plan };
  };
  // Without a node, describeWithNode skips with the node's reason; a skipped suite's body still
  // runs to collect its tests, so it gets the placeholder, never the real body without its tools.
  const ready = clusterTier().nodeRunsPods ? preconditions() : undefined;
  if (ready === undefined) describeWithNode(name, () => test(needs, () => undefined));
  else if ('reason' in ready) describeOrSkip(name, ready.reason, () => test(needs, () => undefined));
  else describeWithNode(name, () => body(ready));
}
