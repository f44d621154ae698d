/**
 * The YAML parser for `-e` values, loaded only when one is a mapping or a file. A module of
 * its own because `yaml` is CommonJS: a named export re-exported statically reaches the bundle
 * (scripts/bundle.mjs) whole, while a dynamic `import('yaml')` there yields only its default.
 */
export { parse } from 'yaml';
