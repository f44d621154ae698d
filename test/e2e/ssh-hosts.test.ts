/**
 * The SSH fixtures (test/e2e/fixtures/ssh-hosts.ts) work as the e2e suites will use them:
 * from a pod, Ansible reaches both managed hosts by Service name with the client key and
 * pinned host keys, and becomes root there; git clones a pushed commit over SSH from the
 * in-cluster git server with a known_hosts pin, and refuses a wrong pin.
 */
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { createTestNamespace, kubeClients, waitForPodPhase } from '../cluster/kube.js';
import { clusterTier, describeWithNode } from '../cluster/tier.js';
import { describeOrSkip } from '../helpers/skip.js';
import { deploySshFixtures, provideTestHostImage, testHostImageUnavailable, type SshFixtures } from './fixtures/ssh-hosts.js';
import { e2eTools, imagePlan, missingImagesSync, provideImages, runnerImage, type Tools } from './tools.js';

const SUITE = 'e2e fixtures: SSH hosts and a git server, reached by Service name from pods';

function preconditions(): Tools | { reason: string } {
  const tools = e2eTools();
  if ('reason' in tools) return tools;
  const unavailable = testHostImageUnavailable();
  return unavailable === undefined ? tools : { reason: unavailable };
}

const ready = clusterTier().nodeRunsPods ? preconditions() : undefined;
if (ready && 'reason' in ready) {
  describeOrSkip(SUITE, ready.reason, () => test('needs kubectl, root and the local test cluster', () => undefined));
} else {
  describeWithNode(SUITE, () => suite(ready as Tools));
}

function suite(tools: Tools): void {
  const { core } = kubeClients();
  let namespace = '';
  let fixtures: SshFixtures;

  beforeAll(async () => {
    namespace = await createTestNamespace(core, 'ajo-ssh');
    fixtures = await deploySshFixtures({ kubectl: tools.kubectl, namespace, image: await provideTestHostImage() });
    await fixtures.applySshAuthSecret('ssh-auth');
  }, 1_800_000);

  afterAll(async () => {
    if (namespace !== '') await core.deleteNamespace({ name: namespace });
  });

  /** Runs a pod to completion; returns its main container's log after a first line naming the phase, so a failed assertion shows both. */
  async function runToCompletion(name: string, spec: Omit<k8s.V1PodSpec, 'restartPolicy'>): Promise<string> {
    await core.createNamespacedPod({ namespace, body: { metadata: { name, namespace }, spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, enableServiceLinks: false, ...spec } } });
    const done = await waitForPodPhase(core, namespace, name, ['Succeeded', 'Failed'], 300_000);
    return `phase: ${done.status?.phase ?? 'unknown'}\n${await core.readNamespacedPodLog({ name, namespace, container: 'main' })}`;
  }

  const sshOptions = '-o UserKnownHostsFile=/ssh/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes';

  test('ansible in the runner image pings both managed hosts by Service name and writes a file on each as root (sudo)', async () => {
    // The runner image: loaded already (images/build --load cluster), or as the delivery suite provides it.
    if (missingImagesSync(tools.kubectl).includes(runnerImage)) {
      const plan = imagePlan(tools.kubectl);
      if (plan.action === 'skip') throw new Error(`the runner image is not on the node: ${plan.reason}`);
      await provideImages(plan, tools);
    }
    const token = randomBytes(6).toString('hex');
    const inventory = Object.values(fixtures.hosts).map((host) => `${host.fqdn},`).join('');
    const ansible = `ansible all -i '${inventory}' -u ansible --private-key /ssh/ssh-privatekey --ssh-common-args='${sshOptions}'`;
    const result = await runToCompletion('ansible', {
      // The runner image's user (uid 1000) reads the key through the group: ssh accepts a
      // key file that another user (root) owns, whatever its group bits.
      securityContext: { fsGroup: 1000 },
      containers: [
        {
          name: 'main',
          image: runnerImage,
          imagePullPolicy: 'IfNotPresent',
          env: [{ name: 'ANSIBLE_NOCOLOR', value: '1' }],
          command: ['sh', '-c', `${ansible} --one-line -m ping && ${ansible} -b -m copy -a 'dest=/etc/ajo-e2e-proof content="{{ inventory_hostname }} ${token}"'`],
          volumeMounts: [{ name: 'ssh', mountPath: '/ssh', readOnly: true }],
        },
      ],
      volumes: [{ name: 'ssh', secret: { secretName: 'ssh-auth', defaultMode: 0o440 } }],
    });
    expect(result).toMatch(/^phase: Succeeded\n/);
    for (const host of Object.values(fixtures.hosts)) {
      expect(result).toMatch(new RegExp(`^${host.fqdn.replaceAll('.', '\\.')} \\| SUCCESS => \\{.*"ping": "pong"`, 'm'));
      expect(await fixtures.readFileOnHost(host.name, '/etc/ajo-e2e-proof')).toBe(`${host.fqdn} ${token}`);
    }
  });

  test('git clones a pushed tag over SSH from the in-cluster git server, pinned by known_hosts; a wrong pin is refused', async () => {
    const first = await fixtures.pushRepo({ 'site.yml': '- hosts: all\n', 'roles/web/tasks/main.yml': '- ping:\n' }, { repo: 'infra', tag: 'v1' });
    const second = await fixtures.pushRepo({ 'site.yml': '- hosts: web\n' }, { repo: 'infra' });
    expect(second).not.toBe(first);
    // A known_hosts that names the git server with another host's key.
    const wrongPin = `${fixtures.git.fqdn} ${Object.values(fixtures.hosts)[0]?.hostKey ?? ''}\n`;
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'wrong-pin' }, type: 'kubernetes.io/ssh-auth', stringData: { 'ssh-privatekey': fixtures.clientKey.privateKey, known_hosts: wrongPin } } });

    const clone = (secretName: string) => ({
      containers: [
        {
          name: 'main',
          // The fixture image has git and ssh; its entry point (sshd) is replaced.
          image: fixtures.image,
          imagePullPolicy: 'IfNotPresent' as const,
          env: [{ name: 'GIT_SSH_COMMAND', value: `ssh -i /ssh/ssh-privatekey ${sshOptions}` }],
          command: ['sh', '-c', `git -c advice.detachedHead=false clone -q --branch v1 ${fixtures.gitUrl('infra')} /tmp/infra 2>&1 && cd /tmp/infra && git rev-parse HEAD && find . -path ./.git -prune -o -type f -print | sort && cat site.yml`],
          volumeMounts: [{ name: 'ssh', mountPath: '/ssh', readOnly: true }],
        },
      ],
      volumes: [{ name: 'ssh', secret: { secretName, defaultMode: 0o400 } }],
    });

    const pinned = await runToCompletion('clone', clone('ssh-auth'));
    expect(pinned).toBe(`phase: Succeeded\n${first}\n./roles/web/tasks/main.yml\n./site.yml\n- hosts: all\n`);

    const refused = await runToCompletion('clone-wrong-pin', clone('wrong-pin'));
    expect(refused).toMatch(/^phase: Failed\n[^]*Host key verification failed/);
  });
}
