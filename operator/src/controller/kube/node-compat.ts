/**
 * @kubernetes/client-node 2 depends on undici 8, which targets Node >= 22 and fails at
 * import time on Node 20 (the project's engine floor: `>=20.19`). Three Node 22 APIs are
 * missing; each shim below is the smallest stand-in that keeps the code paths we use
 * (HTTP/1.1 fetch with gzip, TLS client certs, bearer tokens) behaving exactly as on 22:
 *  - zlib.createZstdDecompress: only used if a server answers with zstd, which kube-apiserver
 *    never does; undici detects its absence and stops advertising zstd.
 *  - worker_threads.markAsUncloneable: marks undici's web objects as not structured-clonable;
 *    a no-op only loses that guard.
 *  - Promise.withResolvers: a standard polyfill.
 * This module must be imported before @kubernetes/client-node or undici anywhere.
 * Remove it when the engine floor moves to Node 22.
 */
import zlib from 'node:zlib';
import workerThreads from 'node:worker_threads';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const zlibModule = zlib as Mutable<typeof zlib> & { createZstdDecompress?: unknown };
if (typeof zlibModule.createZstdDecompress !== 'function') {
  zlibModule.createZstdDecompress = () => {
    throw new Error('zstd content-encoding needs Node >= 22.15');
  };
}

const workerThreadsModule = workerThreads as typeof workerThreads & { markAsUncloneable?: unknown };
if (typeof workerThreadsModule.markAsUncloneable !== 'function') {
  (workerThreadsModule as { markAsUncloneable: (value: object) => void }).markAsUncloneable = () => undefined;
}

const promiseStatics = Promise as unknown as { withResolvers?: unknown };
if (typeof promiseStatics.withResolvers !== 'function') {
  promiseStatics.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
