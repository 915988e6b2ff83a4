/**
 * The Lua scripts of the Redis lifecycle driver. Each runs atomically on the server, so a key's conditions and what
 * is done to it see the same key. Key names and DUMP payloads are bytes: the scripts return them hex-encoded (the
 * adapter reads replies as text) and take them as binary arguments.
 */

/** `hex(s)`: hex of a byte string, in slices that string.format can take in one call. */
const HEX = `
local function hex(s)
  local parts = {}
  for i = 1, #s, 4000 do
    local j = math.min(i + 3999, #s)
    parts[#parts + 1] = string.format(string.rep('%02x', j - i + 1), string.byte(s, i, j))
  end
  return table.concat(parts)
end`;

/**
 * `matches(k)`: the key's PTTL when it exists and meets the conditions in ARGV (idle seconds, 0 for any; ttl mode
 * 'none' | 'set' | ''; type or ''), else nil. TYPE, PTTL and OBJECT IDLETIME leave the key's idle time alone.
 */
const MATCHES = `
local function matches(k, idle, ttl, typ)
  local pttl = redis.call('PTTL', k)
  if pttl == -2 then return nil end
  if ttl == 'none' and pttl ~= -1 then return nil end
  if ttl == 'set' and pttl < 0 then return nil end
  if typ ~= '' and redis.call('TYPE', k)['ok'] ~= typ then return nil end
  if idle > 0 then
    local seconds = redis.call('OBJECT', 'IDLETIME', k)
    if not seconds or seconds < idle then return nil end
  end
  return pttl
end`;

/**
 * One SCAN page: ARGV = cursor, pattern, count, idle, ttl, type. Returns {next cursor, hex key, pttl, hex key, pttl...}
 * for the keys of the page that match.
 */
export const SCAN_PAGE = `${HEX}${MATCHES}
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local idle, ttl, typ = tonumber(ARGV[4]), ARGV[5], ARGV[6]
local out = { page[1] }
for _, k in ipairs(page[2]) do
  local pttl = matches(k, idle, ttl, typ)
  if pttl then
    out[#out + 1] = hex(k)
    out[#out + 1] = pttl
  end
end
return out`;

/**
 * KEYS[1]'s PTTL and hex DUMP, or nil when it is gone. DUMP counts as an access (the key's idle time restarts), so
 * only policies that archive read values.
 */
export const DUMP_KEY = `${HEX}
local dump = redis.call('DUMP', KEYS[1])
if not dump then return nil end
return { redis.call('PTTL', KEYS[1]), hex(dump) }`;

/** UNLINKs those of KEYS that still meet the conditions (ARGV = idle, ttl, type), a thousand per call (unpack has a stack limit); returns how many. */
export const REMOVE_MATCHING = `${MATCHES}
local idle, ttl, typ = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local gone = {}
for _, k in ipairs(KEYS) do
  if matches(k, idle, ttl, typ) then gone[#gone + 1] = k end
end
local removed = 0
for i = 1, #gone, 1000 do
  removed = removed + redis.call('UNLINK', unpack(gone, i, math.min(i + 999, #gone)))
end
return removed`;

/** UNLINKs KEYS[1] only if its DUMP is still ARGV[1] (the archived value); returns 1 or 0. */
export const REMOVE_EXACT = `
if redis.call('DUMP', KEYS[1]) == ARGV[1] then return redis.call('UNLINK', KEYS[1]) end
return 0`;

/**
 * RESTOREs every key of KEYS (ARGV = ttl, dump pairs) if none exists, else restores nothing and fails with BUSYKEY
 * naming the first existing key (hex): all or nothing, never an overwrite.
 */
export const RESTORE_ALL = `${HEX}
for _, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then
    return redis.error_reply('BUSYKEY Target key name already exists (hex ' .. hex(k) .. ')')
  end
end
for i, k in ipairs(KEYS) do
  redis.call('RESTORE', k, ARGV[2 * i - 1], ARGV[2 * i])
end
return #KEYS`;
