/**
 * ajo's library API: the counterpart of ansible-runner's Python API with its
 * `streamer` parameter. Each stage is a function over Node streams; `run`
 * chains all three in one process. Stages joined by pipes run together (each
 * waits for the next to read), as in the README's example:
 *
 *   await Promise.all([
 *     transmit({ privateDataDir: 'demo', playbook: 'test.yml' }, jobStream),
 *     worker(jobStream, resultStream, { keepaliveSeconds: 30 }),
 *     processStream(resultStream, { privateDataDir: 'demo', display: process.stdout }),
 *   ]);
 *
 * node-pty, dockerode and @kubernetes/client-node are optional peer
 * dependencies, loaded where used; a missing one is a MissingPeerError.
 */
export {
  transmit,
  transmitOptionsSchema,
  TransmitError,
  type RequireWhatToRun,
  type TransmitOptions,
  type TransmitResult,
  type TransmitStreamOptions,
} from './streaming/transmit.js';
export { worker, WorkerInputError, type WorkerOptions, type WorkerResult } from './streaming/worker.js';
export { run, type RunOptions, type RunResult } from './streaming/run.js';
export { processStream, ProcessError, type ProcessOptions, type ProcessResult } from './streaming/process.js';
export { followFile, type FollowOptions } from './streaming/follow.js';
export { StatusPublisher, terminationMessage } from './streaming/status-publisher.js';
export {
  statusDocumentSchema,
  hostCountsFromStats,
  type StatusDocument,
  type HostCounts,
  type RunnerStatus,
} from './protocol/status-document.js';
export { runnerKwargsSchema, parseRunnerKwargs, type RunnerKwargs } from './protocol/kwargs.js';
export { readFrames, StreamFormatError, type Frame } from './protocol/frames.js';
export { packDirectory, unpackArchive, UnsafeArchiveError, DEFAULT_UNPACK_LIMITS, type UnpackLimits, type ZipProgress } from './protocol/zip.js';
export { MissingPeerError } from './protocol/optional-peer.js';
export type { JobEvent, JobEventName } from './protocol/events.js';
