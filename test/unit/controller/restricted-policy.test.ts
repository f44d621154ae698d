// What a podTemplate may not add to a worker pod: volume types outside the restricted profile
// and service account tokens (a job's author cannot create pods, so may not borrow a token).
import { buildWorkerPod } from '../../../operator/src/controller/pod/pod-spec.js';
import { makeJob, makeSourceJob, podOptions } from './fixtures.js';

const violationsOf = (podTemplateSpec: Record<string, unknown>) => {
  const built = buildWorkerPod(makeJob({ podTemplate: { spec: podTemplateSpec } }), 1, podOptions);
  return built.ok ? [] : built.violations;
};

describe('restricted policy of a merged worker pod', () => {
  test('the default pods (payload and source) pass', () => {
    expect(buildWorkerPod(makeJob(), 1, podOptions).ok).toBe(true);
    expect(buildWorkerPod(makeSourceJob(), 1, podOptions).ok).toBe(true);
  });

  test('volume types the restricted profile allows pass; others, hostPath included, are named', () => {
    expect(violationsOf({ volumes: [{ name: 'scratch', emptyDir: {} }, { name: 'cfg', configMap: { name: 'c' } }, { name: 'data', persistentVolumeClaim: { claimName: 'p' } }] })).toEqual([]);
    expect(violationsOf({ volumes: [{ name: 'remote', nfs: { server: 'nfs.example', path: '/' } }, { name: 'node', hostPath: { path: '/' } }, { name: 'repo', gitRepo: { repository: 'x' } }] })).toEqual([
      'spec.volumes[remote] must not be a nfs volume',
      'spec.volumes[node] must not be a hostPath',
      'spec.volumes[repo] must not be a gitRepo volume',
    ]);
  });

  test('no service account token, neither automounted nor projected', () => {
    expect(violationsOf({ automountServiceAccountToken: true })).toEqual(['spec.automountServiceAccountToken must not be true']);
    expect(violationsOf({ volumes: [{ name: 'token', projected: { sources: [{ configMap: { name: 'c' } }, { serviceAccountToken: { path: 'token' } }] } }] })).toEqual([
      'spec.volumes[token] must not project a service account token',
    ]);
    expect(violationsOf({ volumes: [{ name: 'bundle', projected: { sources: [{ configMap: { name: 'c' } }, { secret: { name: 's' } }, { downwardAPI: { items: [] } }] } }] })).toEqual([]);
  });
});
