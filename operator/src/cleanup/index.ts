export { pythonGlob, hasMagic, fnmatchToRegExp } from './glob.js';
export { checkPattern, protectedPaths, systemPathReason, patternBase, type Refusal, type RefusalKind } from './safety.js';
export { pidFileState, processExists, type PidFileState } from './liveness.js';
export {
  cleanupDirs,
  GRACE_PERIOD_DEFAULT_MINUTES,
  type DirCleanupOptions,
  type DirCleanupReport,
  type RemovedDir,
  type SkippedPath,
  type SkipReason,
  type CleanupFailure,
} from './dirs.js';
export { sweepArtifacts, sweepEvent, SweepConfigError, type ArtifactsSweepOptions, type SweepReport, type SweepCounts } from './sweep.js';
export {
  connectEngine,
  resolveEngineEndpoint,
  dockerOptions,
  defaultSockets,
  engineKindOf,
  EngineUnreachableError,
  EngineConfigError,
  type Engine,
  type EngineEndpoint,
  type EngineKind,
  type Executable,
} from './engine.js';
export {
  removeImages,
  pruneImages,
  pruneFilters,
  untilCutoff,
  referenceMatches,
  EngineRequestError,
  type ImageRemovalReport,
  type PruneOptions,
  type PruneReport,
  type KeptImage,
} from './images.js';
export { runWorkerCleanup, type WorkerCleanupOptions, type WorkerCleanupResult, type Output } from './run.js';
