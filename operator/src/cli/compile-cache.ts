/**
 * Imported first by main.ts: from here on, Node (>= 22.1) reads the modules it
 * loads from V8's on-disk code cache instead of compiling them anew, which is
 * most of the CLI's start-up. A no-op on an older Node. The cache lives in
 * os.tmpdir()/node-compile-cache, which is writable in pods too (read-only root
 * file system, writable /tmp); NODE_COMPILE_CACHE moves it and
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off. A directory that cannot be written
 * leaves the cache off without an error.
 */
import module from 'node:module';

module.enableCompileCache?.();
