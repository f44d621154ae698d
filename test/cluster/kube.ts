import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';

/** Clients for the cluster of the current KUBECONFIG. */
export function kubeClients(): { config: k8s.KubeConfig; core: k8s.CoreV1Api } {
  const config = new k8s.KubeConfig();
  config.loadFromDefault();
  return { config, core: config.makeApiClient(k8s.CoreV1Api) };
}

/**
 * A namespace of its own for one suite, with its default ServiceAccount in
 * place (pods cannot be created before it exists). Delete it in afterAll.
 */
export async function createTestNamespace(core: k8s.CoreV1Api, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'ajo.test/suite': prefix } } } });
  await until(`the default ServiceAccount in ${name}`, 60_000, async () => {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return true;
    } catch {
      return false;
    }
  });
  return name;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

/** Waits until the pod reaches one of the phases; returns the pod as it is then. */
export async function waitForPodPhase(core: k8s.CoreV1Api, namespace: string, name: string, phases: PodPhase[], timeoutMs = 120_000): Promise<k8s.V1Pod> {
  let pod: k8s.V1Pod | undefined;
  await until(`pod ${namespace}/${name} to reach ${phases.join(' or ')}`, timeoutMs, async () => {
    pod = await core.readNamespacedPod({ name, namespace });
    return phases.includes((pod.status?.phase ?? 'Unknown') as PodPhase);
  }, () => JSON.stringify(pod?.status ?? {}, null, 1));
  return pod as k8s.V1Pod;
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, lastState: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} ${lastState()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Shell text that defines `get HOST PORT` for a busybox pod: it fetches / over HTTP with nc and
 * prints the page's last line, trying once a second up to `tries` times, as a new Service
 * answers only once kube-proxy has programmed it (busybox's wget crashes in its resolver,
 * docs/cluster.md). Each try prints "attempt N" first; a try that times out leaves "nc: timed
 * out" on stderr, which shares the pod's log, so the page is the log's last line.
 */
export function httpGetShellFunction(tries: number): string {
  return `get() { for i in $(seq 1 ${tries}); do echo "attempt $i"; printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 "$1" "$2" | tail -n 1 | grep . && return 0; sleep 1; done; return 1; }; `;
}
