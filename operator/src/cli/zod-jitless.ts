/**
 * Imported (dynamically) by commands that check options once: zod then parses without first
 * compiling a parser for each object schema, which such a command pays for and never gets
 * back (~7 ms of CPU on transmit's 40 options). A module of its own, because a dynamic
 * `import('zod')` hands the bundler zod's whole namespace, locales and all.
 */
import { config } from 'zod';

config({ jitless: true });
