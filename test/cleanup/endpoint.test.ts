// Endpoint resolution and reference matching: pure functions, no engine needed.
import { describe, expect, test } from '@jest/globals';

import { dockerOptions, engineKindOf, EngineConfigError, resolveEngineEndpoint } from '../../operator/src/cleanup/engine.js';
import { referenceMatches, untilCutoff } from '../../operator/src/cleanup/images.js';

const none = () => false;

describe('resolveEngineEndpoint', () => {
  test('flag beats AJO_ENGINE_HOST beats DOCKER_HOST/CONTAINER_HOST', () => {
    const env = { AJO_ENGINE_HOST: 'unix:///a.sock', DOCKER_HOST: 'unix:///d.sock', CONTAINER_HOST: 'unix:///p.sock' };
    expect(resolveEngineEndpoint('docker', { explicit: 'tcp://h:1', env })).toEqual({ url: 'tcp://h:1', source: 'flag' });
    expect(resolveEngineEndpoint('docker', { env })).toEqual({ url: 'unix:///a.sock', source: 'AJO_ENGINE_HOST' });
    const { AJO_ENGINE_HOST: _, ...rest } = env;
    expect(resolveEngineEndpoint('docker', { env: rest })).toEqual({ url: 'unix:///d.sock', source: 'DOCKER_HOST' });
    expect(resolveEngineEndpoint('podman', { env: rest })).toEqual({ url: 'unix:///p.sock', source: 'CONTAINER_HOST' });
  });

  test('default sockets: the first that exists, else the first expected one', () => {
    expect(resolveEngineEndpoint('docker', { env: {}, socketExists: (p) => p === '/run/docker.sock' }).url).toBe('unix:///run/docker.sock');
    expect(resolveEngineEndpoint('docker', { env: {}, socketExists: none }).url).toBe('unix:///var/run/docker.sock');
    expect(resolveEngineEndpoint('podman', { env: {}, uid: 0, socketExists: none }).url).toBe('unix:///run/podman/podman.sock');
    expect(resolveEngineEndpoint('podman', { env: { XDG_RUNTIME_DIR: '/run/user/1000' }, uid: 1000, socketExists: none }).url).toBe(
      'unix:///run/user/1000/podman/podman.sock',
    );
  });
});

describe('dockerOptions', () => {
  test('unix and tcp', () => {
    expect(dockerOptions({ url: 'unix:///tmp/x.sock', source: 'flag' }, {})).toEqual({ socketPath: '/tmp/x.sock' });
    expect(dockerOptions({ url: 'tcp://10.0.0.1:2375', source: 'flag' }, {})).toEqual({ host: '10.0.0.1', port: '2375', protocol: 'http' });
  });

  test.each(['ssh://u@h', 'unix://relative.sock', 'not a url'])('%s is refused', (url) => {
    expect(() => dockerOptions({ url, source: 'flag' }, {})).toThrow(EngineConfigError);
  });
});

test('engineKindOf reads Podman from Components', () => {
  expect(engineKindOf({ Version: '4.3.1', ApiVersion: '1.41', Components: [{ Name: 'Podman Engine', Version: '4.3.1' }] })).toBe('podman');
  expect(engineKindOf({ Version: '20.10.24', ApiVersion: '1.41', Components: [{ Name: 'Engine', Version: '20.10.24' }] })).toBe('docker');
});

describe('referenceMatches', () => {
  test.each([
    ['ajo:1', 'ajo:1', true],
    ['ajo:1', 'ajo:2', false],
    ['ajo', 'ajo:2', true],
    ['ajo:1', 'docker.io/library/ajo:1', true],
    ['ajo:1', 'localhost/ajo:1', true],
    ['localhost/ajo:1', 'localhost/ajo:1', true],
    ['quay.io/u/ajo:1', 'docker.io/u/ajo:1', false],
    ['ajo', 'ajo-other:1', false],
    ['localhost:5000/ajo:1', 'localhost:5000/ajo:1', true],
    ['ajo:*', 'ajo:dev', true],
  ] satisfies [string, string, boolean][])('%s selects %s: %s', (want, have, expected) => {
    expect(referenceMatches(want, have)).toBe(expected);
  });
});

test('untilCutoff', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  expect(untilCutoff('1h30m', now)).toEqual(new Date('2025-12-31T22:30:00Z'));
  expect(untilCutoff('1767225600', now)).toEqual(new Date('2026-01-01T00:00:00Z'));
  expect(untilCutoff('2025-12-01T00:00:00Z', now)).toEqual(new Date('2025-12-01T00:00:00Z'));
  expect(untilCutoff('yesterday', now)).toBeUndefined();
});
