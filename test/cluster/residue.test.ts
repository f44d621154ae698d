import { localClusterInfo } from './local-cluster.js';
import { createTestNamespace, kubeClients, waitForPodPhase } from './kube.js';
import { findResidue } from './jest-global-teardown.js';
import { clusterTier, tierEnv } from './tier.js';
import { describeOrSkip } from '../helpers/skip.js';

/**
 * The global teardown proves that `down` leaves nothing behind by finding no
 * residue afterwards (jest-global-teardown.ts). That proof is only worth
 * something if the same check does find a running cluster; this shows it does.
 */
const startedByRun = process.env[tierEnv.startedByRun] === '1';
const tier = clusterTier();
const skipReason = startedByRun && tier.nodeRunsPods ? null : `needs a full local cluster started by this run: ${startedByRun ? tier.nodeReason : 'KUBECONFIG names a cluster this run did not start'}`;

describeOrSkip('cluster tier: the residue check used after down', skipReason, () => {
  test('finds every kind of thing a running cluster leaves on the machine', () => {
    const residue = findResidue(localClusterInfo());
    expect(residue.processes.some((p) => p.includes('kube-apiserver'))).toBe(true);
    expect(residue.processes.some((p) => p.includes('containerd'))).toBe(true);
    expect(residue.processes.some((p) => p.includes('kubelet'))).toBe(true);
    expect(residue.links).toContain(localClusterInfo().bridge);
    expect(residue.iptablesChains.some((c) => c.includes('KUBE-SERVICES'))).toBe(true);
    expect(residue.cgroups.length).toBeGreaterThan(0);
  });

  test('finds the mounts of a running pod', async () => {
    const { core } = kubeClients();
    const namespace = await createTestNamespace(core, 'ajo-residue');
    try {
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: 'sleeper' },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: tier.testImage, command: ['sleep', '300'] }] },
        },
      });
      await waitForPodPhase(core, namespace, 'sleeper', ['Running']);
      const { mounts } = findResidue(localClusterInfo());
      // The container's root filesystem (containerd's overlay) and its
      // service-account token (a tmpfs of the kubelet) are both in the state dir.
      expect(mounts.some((m) => m.endsWith('/rootfs'))).toBe(true);
      expect(mounts.some((m) => m.includes('kube-api-access'))).toBe(true);
    } finally {
      await core.deleteNamespace({ name: namespace });
    }
  });
});
