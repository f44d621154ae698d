/**
 * ajo's library API: the counterpart of ansible-runner's Python API with its
 * `streamer` parameter. Each stage is a function over Node streams; `run`
 * chains all three in one process.
 *
 *   await transmit({ privateDataDir: 'demo', playbook: 'test.yml' }, socket);
 *   await worker(socket, resultSocket, { keepaliveSeconds: 30 });
 *   await processStream(resultSocket, { privateDataDir: 'demo', display: process.stdout });
 */
export { transmit, transmitOptionsSchema, TransmitError, type TransmitOptions, type TransmitResult } from './streaming/transmit.js';
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
export { packDirectory, unpackArchive, UnsafeArchiveError, DEFAULT_UNPACK_LIMITS, type UnpackLimits } from './protocol/zip.js';
export type { JobEvent, JobEventName } from './protocol/events.js';
