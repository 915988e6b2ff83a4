import { createHash } from 'node:crypto';

/** A Lua script and its SHA1, for EVALSHA (the text is sent only after the server answers NOSCRIPT). */
export interface RedisScript {
  readonly text: string;
  readonly sha: string;
}

function script(text: string): RedisScript {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

// Every script is one atomic step: a read sees a value and its stamps as of one instant, a conditional write compares
// the stamps and stores in the same step, and an invalidation removes, records its tombstones and publishes together.
// Keys are built from the prefix inside the scripts (a tag's members are known only there): standalone and Sentinel
// deployments only, not Redis Cluster (docs/cache.md).

/**
 * KEYS: value, lock, stamp keys (the key's, then its tags'). ARGV: lock token ('' to not lock), lock ms. Returns
 * {payload|false, pttl, lock, stamp...}, lock being 0 when the value is fresh (no lock asked), 1 when this caller took
 * the load lock, 2 when another holder has it. Fresh means the remaining lifetime exceeds the grace, which the
 * payload starts with ("[grace,").
 */
export const READ = script(`
local v = redis.call('GET', KEYS[1])
local t = 0
local lock = 0
if v then t = redis.call('PTTL', KEYS[1]) end
local grace = v and tonumber(string.match(v, '^%[(%d+),')) or 0
if not v or t <= grace then
  if ARGV[1] ~= '' then
    if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then lock = 1 else lock = 2 end
  elseif redis.call('EXISTS', KEYS[2]) == 1 then
    lock = 2
  end
end
local out = {v, t, lock}
for i = 3, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '' end
return out
`);

/**
 * KEYS: value, clock, key stamp, n tag stamps, n tag sets, load lock. ARGV: payload, lifetime ms, mode ('c'
 * conditional, 'f' forced), tombstone ms, channel, origin, key, n, lock token ('' for none), expected stamps (n + 1,
 * mode 'c'). Releases the load lock if the token holds it, whatever else happens. Returns 0 when a stamp changed, 1
 * for a conditional write, the invalidation number for a forced one (which also publishes it).
 */
export const WRITE = script(`
local n = tonumber(ARGV[8])
if ARGV[9] ~= '' and redis.call('GET', KEYS[4 + 2 * n]) == ARGV[9] then redis.call('DEL', KEYS[4 + 2 * n]) end
if ARGV[3] == 'c' then
  for i = 0, n do
    if (redis.call('GET', KEYS[3 + i]) or '') ~= ARGV[10 + i] then return 0 end
  end
end
local px = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = 1, n do
  local s = KEYS[3 + n + i]
  redis.call('SADD', s, ARGV[7])
  if redis.call('PTTL', s) < px then redis.call('PEXPIRE', s, px) end
end
if ARGV[3] == 'f' then
  local c = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[3], c, 'PX', ARGV[4])
  redis.call('PUBLISH', ARGV[5], cjson.encode({v = c, k = {ARGV[7]}, o = ARGV[6]}))
  return c
end
return 1
`);

/**
 * KEYS: clock. ARGV: prefix, tombstone ms, channel, origin, number of keys, keys..., tags... Removes the keys and
 * every member of the tags' sets, leaves a tombstone (the invalidation number) on each key and tag, publishes.
 */
export const INVALIDATE = script(`
local p = ARGV[1]
local c = redis.call('INCR', KEYS[1])
local nk = tonumber(ARGV[5])
local keys, tags = {}, {}
local function drop(k)
  redis.call('DEL', p .. ':v:' .. k)
  redis.call('SET', p .. ':g:' .. k, c, 'PX', ARGV[2])
end
for i = 6, 5 + nk do
  keys[#keys + 1] = ARGV[i]
  drop(ARGV[i])
end
for i = 6 + nk, #ARGV do
  local t = ARGV[i]
  tags[#tags + 1] = t
  redis.call('SET', p .. ':tg:' .. t, c, 'PX', ARGV[2])
  for _, k in ipairs(redis.call('SMEMBERS', p .. ':ts:' .. t)) do drop(k) end
  redis.call('DEL', p .. ':ts:' .. t)
end
redis.call('PUBLISH', ARGV[3], cjson.encode({v = c, k = keys, t = tags, o = ARGV[4]}))
return c
`);

/** KEYS: lock. ARGV: token. Deletes the lock only while the token still holds it. */
export const UNLOCK = script("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");
