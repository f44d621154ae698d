/** Runs an Argo CD health check script (Lua) on a Kubernetes object with the real lua5.4, the way Argo CD does. */
import { spawnSync } from 'node:child_process';
import { z } from 'zod';

/** The statuses Argo CD accepts from a health script; anything else it turns into Unknown. */
export const ARGO_HEALTH_STATUSES = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'] as const;
const HealthResult = z.strictObject({ status: z.enum(ARGO_HEALTH_STATUSES), message: z.string().optional() });
export type HealthResult = z.infer<typeof HealthResult>;

/** A byte of a Lua string literal: printable ASCII as is, the rest as a decimal escape (valid in Lua 5.1 and 5.4). */
function luaStringByte(byte: number): string {
  if (byte === 0x22) return '\\"';
  if (byte === 0x5c) return '\\\\';
  if (byte >= 0x20 && byte < 0x7f) return String.fromCharCode(byte);
  return `\\${byte.toString().padStart(3, '0')}`;
}

/**
 * A JSON value as a Lua table constructor, matching what Argo CD's decodeValue hands a script:
 * objects and arrays become tables (arrays 1-based), null becomes nil, numbers stay numbers.
 * Integral numbers are written without a fraction, so Lua 5.4 reads them as integers and
 * tostring gives "2" like gopher-lua's float64 does, not "2.0".
 */
export function toLuaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${value} has no JSON (or Lua literal) form`);
    return Number.isInteger(value) ? value.toFixed(0) : String(value);
  }
  if (typeof value === 'string') return `"${[...Buffer.from(value, 'utf8')].map(luaStringByte).join('')}"`;
  if (Array.isArray(value)) return `{${value.map(toLuaLiteral).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value).filter(([, field]) => field !== undefined);
    return `{${fields.map(([key, field]) => `[${toLuaLiteral(key)}] = ${toLuaLiteral(field)}`).join(', ')}}`;
  }
  throw new Error(`a ${typeof value} has no JSON form`);
}

/**
 * The program lua5.4 runs: the object as the global `obj`, then the script in an environment
 * with just what Argo CD gives an argocd-cm script (gopher-lua with its base, table and safe os
 * libraries, no string or math, so no string methods either), then the returned table as JSON.
 */
function wrapperProgram(object: unknown): string {
  return `
local scriptPath = arg[1]
local sandbox = {
  assert = assert, error = error, getmetatable = getmetatable, ipairs = ipairs, next = next,
  pairs = pairs, pcall = pcall, print = print, rawequal = rawequal, rawget = rawget, rawset = rawset,
  select = select, setmetatable = setmetatable, tonumber = tonumber, tostring = tostring,
  type = type, xpcall = xpcall, _VERSION = _VERSION,
  table = { concat = table.concat, insert = table.insert, remove = table.remove, sort = table.sort },
  os = { clock = os.clock, date = os.date, difftime = os.difftime, time = os.time },
}
sandbox._G = sandbox
sandbox.obj = ${toLuaLiteral(object)}

local chunk, loadError = loadfile(scriptPath, "t", sandbox)
if not chunk then io.stderr:write("cannot load: ", loadError, "\\n") os.exit(2) end
local stringMetatable = getmetatable("")
local stringMethods = stringMetatable.__index
stringMetatable.__index = nil
local ok, result = pcall(chunk)
stringMetatable.__index = stringMethods
if not ok then io.stderr:write("script error: ", tostring(result), "\\n") os.exit(3) end
if type(result) ~= "table" then io.stderr:write("script returned a ", type(result), ", not a table\\n") os.exit(4) end

local function jsonString(text)
  return '"' .. text:gsub('[%c"\\\\]', function(c) return string.format("\\\\u%04x", c:byte()) end) .. '"'
end
local fields = {}
for key, value in pairs(result) do
  if type(key) ~= "string" or type(value) ~= "string" then
    io.stderr:write("returned field ", tostring(key), " is a ", type(value), ", not a string\\n") os.exit(5)
  end
  fields[#fields + 1] = jsonString(key) .. ":" .. jsonString(value)
end
io.write("\\n", "{", table.concat(fields, ","), "}", "\\n")
`;
}

/** What Argo CD would show as the health of `object` with the health script at `scriptPath`. */
export function evaluateHealthScript(scriptPath: string, object: unknown): HealthResult {
  const run = spawnSync('lua5.4', ['-', scriptPath], { input: wrapperProgram(object), encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`lua5.4 exited ${run.status}: ${run.stderr.trim()}`);
  const lastLine = run.stdout.trimEnd().split('\n').at(-1) ?? '';
  return HealthResult.parse(JSON.parse(lastLine));
}
