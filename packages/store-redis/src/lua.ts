/**
 * The Lua scripts. Every state change is one of these, run atomically by Redis.
 * KEYS[1] is the store's base `{prefix}` (it routes the call in a cluster); all
 * other keys are derived from it and share its hash tag. ARGV[1] is always "now"
 * from the store's clock: scripts never read the server's TIME.
 *
 * Key layout (B = `{prefix}`, q = a queue name, always last; p = a priority):
 *
 *   B:id           string  last job id (INCR)
 *   B:j:<n>        hash    job records for ids n*100 … n*100+99, n = the id without its last two digits (MessagePack, see codec.ts)
 *   B:chunks       zset    record hashes that exist, by n (for listing in id order)
 *   B:co           hash    coalesce id → job id
 *   B:queues       zset    known queues → earliest run time of their delayed jobs (+inf: none)
 *   B:p:q          zset    lanes of q holding due jobs: "l<p>" / "s<p>", score −p
 *   B:l:p:q        list    due jobs of priority p in run order: "<runAt>:<id>" (appends)
 *   B:s:p:q        zset    due jobs that arrived out of run order (score run time, member by id)
 *   B:d:q          zset    delayed jobs (score run time, member "<p>:<id>")
 *   B:r:q          zset    running jobs (score lease deadline, member "<id>:<token>")
 *   B:mr           zset    running/parked jobs with maxRuntimeSeconds (score startedAt + limit)
 *   B:w:q, B:c:q, B:f:q    zset  wait_async / kept completed / failed jobs (score = id)
 *   B:lk:<id>      string  withLock lock: "<owner>|<until>"
 *   B:of           zset    offers of idle workers (MessagePack: mailbox, deadline, lease, token prefix,
 *                          worker, queues…), by time of offer
 *   B:mb:<id>      list    a waiting connection's mailbox: claimed jobs handed to it, or wake-ups
 */

const HEADER = `
local B = KEYS[1]
local NOW = tonumber(ARGV[1])
local S, TY, PL, Q, PR, AT, MA, CR, RA, SA, DC, ST, EN, ER, CO, MR, BO, TK, WK = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19
local NF = 19
local QUEUED, RUNNING, WAITING, COMPLETED, FAILED = 1, 2, 3, 4, 5
`;

/** Helpers, each defined after what it uses; a script includes only those it references. */
const LIB: readonly (readonly [names: readonly string[], code: string])[] = [
  [['fmt'], `
-- Integer to string. "now" is formatted already (ARGV[1]); others need sprintf, which is slow in Redis's Lua.
local function fmt(n)
  if n == NOW then return ARGV[1] end
  return string.format('%.0f', n)
end
`],
  [['num'], `
local function num(s)
  if s == 'inf' or s == '+inf' then return math.huge end
  if s == '-inf' then return -math.huge end
  return tonumber(s)
end
`],
  [['ck'], `
-- The record hash of an id: the id without its last two digits (string work, no number formatting).
local function ck(id)
  if #id > 2 then return B .. ':j:' .. string.sub(id, 1, -3) end
  return B .. ':j:0'
end
`],
  [['pack'], `
local function pack(r)
  local n = NF
  while n > DC and not r[n] do r[n] = nil; n = n - 1 end
  for i = 1, n do if r[i] == nil then r[i] = false end end
  return cmsgpack.pack(r)
end
`],
  [['getRec'], `
local function getRec(id)
  local raw = redis.call('HGET', ck(id), id)
  if not raw then return nil, false end
  return cmsgpack.unpack(raw), raw
end
`],
  [['putRec'], `
local function putRec(id, r)
  local raw = pack(r)
  redis.call('HSET', ck(id), id, raw)
  return raw
end
`],
  [['sm'], `
-- Straggler members sort by id: a length byte, then the digits.
local function sm(id) return string.char(64 + #id) .. id end
`],
  [['laneKey'], `
local function laneKey(q, kind, ps) return B .. ':' .. kind .. ':' .. ps .. ':' .. q end
`],
  [['wake', 'nudge', 'NO_OFFERS'], `
-- Queues that got due jobs in this call (wake), or an earlier delayed job (nudge):
-- flushWake() serves the idle workers' offers for them at the end of the script.
-- NO_OFFERS: this call has seen B:of empty (offers are only added by another script).
local WOKE, WOKEN, NUDGE, NUDGED, NO_OFFERS = {}, {}, {}, false, false
local function wake(q, n)
  if not WOKE[q] then WOKE[q] = 0; WOKEN[#WOKEN + 1] = q end
  WOKE[q] = WOKE[q] + n
end
local function nudge(q)
  NUDGE[q] = true
  NUDGED = true
end
`],
  [['ensureQueue'], `
local function ensureQueue(q)
  redis.call('ZADD', B .. ':queues', 'NX', '+inf', q)
end
`],
  [['insertReady'], `
-- A due job joins its lane: appended when it is not earlier than the tail (almost always),
-- else kept in the lane's straggler zset, which the claim merges by run time.
local function insertReady(id, q, p, runAt, ps)
  ps = ps or fmt(p)
  local lk = laneKey(q, 'l', ps)
  local tail = redis.call('LINDEX', lk, -1)
  local inOrder = true
  if tail then
    local c = string.find(tail, ':', 1, true)
    local tr = tonumber(string.sub(tail, 1, c - 1))
    inOrder = tr < runAt or (tr == runAt and tonumber(string.sub(tail, c + 1)) < tonumber(id))
  end
  if inOrder then
    if redis.call('RPUSH', lk, fmt(runAt) .. ':' .. id) == 1 then
      redis.call('ZADD', B .. ':p:' .. q, 0 - p, 'l' .. ps)
      ensureQueue(q)
    end
  else
    redis.call('ZADD', laneKey(q, 's', ps), runAt, sm(id))
    redis.call('ZADD', B .. ':p:' .. q, 0 - p, 's' .. ps)
  end
end
`],
  [['addDelayed'], `
local function addDelayed(id, q, p, runAt)
  redis.call('ZADD', B .. ':d:' .. q, runAt, fmt(p) .. ':' .. id)
  ensureQueue(q)
  -- CH: the queue's next due time moved earlier, so waiters must shorten their sleep.
  if redis.call('ZADD', B .. ':queues', 'LT', 'CH', runAt, q) == 1 then nudge(q) end
end
`],
  [['place'], `
-- Puts a queued record where it belongs by its run time.
local function place(id, r)
  if r[RA] <= NOW then
    insertReady(id, r[Q], r[PR], r[RA])
    wake(r[Q], 1)
  else
    addDelayed(id, r[Q], r[PR], r[RA])
  end
end
`],
  [['removeQueued'], `
local function removeQueued(id, r)
  local q, ps = r[Q], fmt(r[PR])
  if redis.call('ZREM', B .. ':d:' .. q, ps .. ':' .. id) == 1 then return end
  if redis.call('ZREM', laneKey(q, 's', ps), sm(id)) == 1 then return end
  redis.call('LREM', laneKey(q, 'l', ps), 1, fmt(r[RA]) .. ':' .. id)
end
`],
  [['unindex'], `
-- Takes a record out of the index of its current status.
local function unindex(id, r)
  local q, s = r[Q], r[S]
  if s == QUEUED then removeQueued(id, r)
  elseif s == RUNNING then redis.call('ZREM', B .. ':r:' .. q, id .. ':' .. tostring(r[TK]))
  elseif s == WAITING then redis.call('ZREM', B .. ':w:' .. q, id)
  elseif s == COMPLETED then redis.call('ZREM', B .. ':c:' .. q, id)
  elseif s == FAILED then redis.call('ZREM', B .. ':f:' .. q, id) end
  if (s == RUNNING or s == WAITING) and r[MR] then redis.call('ZREM', B .. ':mr', id) end
end
`],
  [['applyOutcome'], `
-- Applies an outcome to a running or parked record already taken out of its index
-- (the maxRuntime entry stays only for 'w'). Returns the record as it is now.
local function applyOutcome(id, r, oc, err, delay, maxAtt)
  local q = r[Q]
  r[TK] = false
  if oc == 'd' then
    redis.call('HDEL', ck(id), id)
    if r[CO] then redis.call('HDEL', B .. ':co', r[CO]) end
    r[S] = COMPLETED; r[EN] = NOW
    return pack(r)
  elseif oc == 'c' then
    r[S] = COMPLETED; r[EN] = NOW
    redis.call('ZADD', B .. ':c:' .. q, id, id)
  elseif oc == 'w' then
    r[S] = WAITING
    redis.call('ZADD', B .. ':w:' .. q, id, id)
  elseif oc == 'q' then
    r[S] = QUEUED; r[ER] = err; r[MA] = maxAtt; r[WK] = false
    r[RA] = NOW + delay; r[SA] = true
    place(id, r)
  else
    r[S] = FAILED; r[ER] = err; r[EN] = NOW
    if maxAtt then r[MA] = maxAtt end
    redis.call('ZADD', B .. ':f:' .. q, id, id)
  end
  return putRec(id, r)
end
`],
  [['promote'], `
-- Moves delayed jobs of q whose run time has come into their lanes.
local function promote(q)
  local dk = B .. ':d:' .. q
  local due = redis.call('ZRANGEBYSCORE', dk, '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, 1000)
  if #due > 0 then
    local items, members = {}, {}
    for i = 1, #due, 2 do
      local m = due[i]
      local c = string.find(m, ':', 1, true)
      members[#members + 1] = m
      items[#items + 1] = { p = tonumber(string.sub(m, 1, c - 1)), id = string.sub(m, c + 1), at = num(due[i + 1]) }
    end
    redis.call('ZREM', dk, unpack(members))
    table.sort(items, function(a, b) return a.at < b.at or (a.at == b.at and tonumber(a.id) < tonumber(b.id)) end)
    for _, it in ipairs(items) do insertReady(it.id, q, it.p, it.at) end
  end
  local nx = redis.call('ZRANGE', dk, 0, 0, 'WITHSCORES')
  redis.call('ZADD', B .. ':queues', nx[2] or '+inf', q)
end
`],
  [['claimQueues'], `
-- The queues a claim looks at (all known ones for nil), promoting due delayed jobs on the way.
local function claimQueues(spec)
  local names = {}
  if spec == nil then
    local r = redis.call('ZRANGE', B .. ':queues', 0, -1, 'WITHSCORES')
    for i = 1, #r, 2 do
      names[#names + 1] = r[i]
      if num(r[i + 1]) <= NOW then promote(r[i]) end
    end
  elseif #spec > 0 then
    local r = redis.call('ZMSCORE', B .. ':queues', unpack(spec))
    for i = 1, #spec do
      if r[i] then
        names[#names + 1] = spec[i]
        if num(r[i]) <= NOW then promote(spec[i]) end
      end
    end
  end
  return names
end
`],
  [['topLanes'], `
local function topLanes(q)
  local r = redis.call('ZRANGE', B .. ':p:' .. q, 0, 1, 'WITHSCORES')
  if #r == 0 then return false end
  local lanes = { r[1] }
  if r[3] and num(r[4]) == num(r[2]) then lanes[2] = r[3] end
  return { p = -num(r[2]), lanes = lanes }
end
`],
  [['headOfLane'], `
local function headOfLane(q, lane)
  local kind, ps = string.sub(lane, 1, 1), string.sub(lane, 2)
  local key = laneKey(q, kind, ps)
  if kind == 'l' then
    local e = redis.call('LINDEX', key, 0)
    if not e then return nil end
    local c = string.find(e, ':', 1, true)
    return { q = q, kind = 'l', key = key, lane = lane, elem = e, at = tonumber(string.sub(e, 1, c - 1)), id = string.sub(e, c + 1) }
  end
  local z = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #z == 0 then return nil end
  return { q = q, kind = 's', key = key, lane = lane, elem = z[1], at = num(z[2]), id = string.sub(z[1], 2) }
end
`],
  [['dropLane'], `
local function dropLane(q, lane) redis.call('ZREM', B .. ':p:' .. q, lane) end
`],
  [['pickBest'], `
-- The best due job across names by (priority desc, run time, id); lanes found empty are dropped.
local function pickBest(names, state)
  for _ = 1, 64 do
    local bestP, cands = nil, {}
    for _, q in ipairs(names) do
      local st = state[q]
      if st == nil then st = topLanes(q); state[q] = st end
      if st then
        if bestP == nil or st.p > bestP then bestP = st.p; cands = {} end
        if st.p == bestP then for _, l in ipairs(st.lanes) do cands[#cands + 1] = { q, l } end end
      end
    end
    if bestP == nil then return nil end
    if #cands == 1 and string.sub(cands[1][2], 1, 1) == 'l' then
      local q, lane = cands[1][1], cands[1][2]
      return { q = q, kind = 'l', lane = lane, key = laneKey(q, 'l', string.sub(lane, 2)), direct = true }
    end
    local best, stale = nil, false
    for _, c in ipairs(cands) do
      local h = headOfLane(c[1], c[2])
      if h == nil then
        dropLane(c[1], c[2]); state[c[1]] = nil; stale = true
      elseif best == nil or h.at < best.at or (h.at == best.at and tonumber(h.id) < tonumber(best.id)) then
        best = h
      end
    end
    if not stale then return best end
  end
  return nil
end
`],
  [['take'], `
-- Takes up to n ids from the chosen lane (n only when it is the single best lane).
local function take(best, state, n)
  if best.direct then
    local els = redis.call('LPOP', best.key, n)
    if not els or #els < n then dropLane(best.q, best.lane); state[best.q] = nil end
    if not els then return {} end
    local ids = {}
    for i, e in ipairs(els) do ids[i] = string.sub(e, string.find(e, ':', 1, true) + 1) end
    return ids
  end
  if best.kind == 'l' then redis.call('LPOP', best.key) else redis.call('ZREM', best.key, best.elem) end
  state[best.q] = nil
  return { best.id }
end
`],
  [['claimJobs'], `
-- Claims up to L due jobs from names; appends id, token, record for each to out and
-- returns how many. Jobs taken together are read and written with one call per record hash.
local function claimJobs(names, L, workerId, leaseMs, tokPrefix, out)
  local state = {}
  local n = 0
  local lease = NOW + leaseMs
  for _ = 1, L * 4 + 64 do
    if n >= L then break end
    local best = pickBest(names, state)
    if not best then break end
    local ids = take(best, state, L - n)
    local i = 1
    while ids[i] do
      local k = ck(ids[i])
      local group = { ids[i] }
      while ids[i + #group] and ck(ids[i + #group]) == k do group[#group + 1] = ids[i + #group] end
      i = i + #group
      local raws = redis.call('HMGET', k, unpack(group))
      local hset, zadd = {}, {}
      for j, id in ipairs(group) do
        local r = raws[j] and cmsgpack.unpack(raws[j])
        if r and r[S] == QUEUED then
          n = n + 1
          local tok = tokPrefix .. n
          r[S] = RUNNING; r[AT] = r[AT] + 1; r[ST] = NOW; r[EN] = false; r[ER] = false; r[TK] = tok; r[WK] = workerId
          local raw = pack(r)
          hset[#hset + 1] = id; hset[#hset + 1] = raw
          zadd[#zadd + 1] = lease; zadd[#zadd + 1] = id .. ':' .. tok
          if r[MR] then redis.call('ZADD', B .. ':mr', NOW + r[MR] * 1000, id) end
          out[#out + 1] = id; out[#out + 1] = tok; out[#out + 1] = raw
        end
      end
      if #hset > 0 then
        redis.call('HSET', k, unpack(hset))
        redis.call('ZADD', B .. ':r:' .. best.q, unpack(zadd))
      end
    end
  end
  return n
end
`],
  [['queueCount'], `
local function queueCount(q)
  local n = redis.call('ZCARD', B .. ':d:' .. q)
  for _, lane in ipairs(redis.call('ZRANGE', B .. ':p:' .. q, 0, -1)) do
    local kind = string.sub(lane, 1, 1)
    local key = laneKey(q, kind, string.sub(lane, 2))
    if kind == 'l' then n = n + redis.call('LLEN', key) else n = n + redis.call('ZCARD', key) end
  end
  return n
end
`],
  [['statusCount'], `
local function statusCount(q, code)
  if code == QUEUED then return queueCount(q) end
  local k = ({ [RUNNING] = ':r:', [WAITING] = ':w:', [COMPLETED] = ':c:', [FAILED] = ':f:' })[code]
  if not k then return 0 end
  return redis.call('ZCARD', B .. k .. q)
end
`],
  [['flushWake'], `
-- Serves the offers of idle workers (B:of, oldest first): for a queue that got due jobs,
-- claims the best one for the worker and pushes it to its mailbox, so the job reaches it
-- in the reply to its blocked call; a nudge only wakes it. Expired offers are dropped.
local function flushWake()
  if (#WOKEN == 0 and not NUDGED) or NO_OFFERS then return end
  local offers = redis.call('ZRANGE', B .. ':of', 0, -1)
  if #offers == 0 then return end
  local budget = 0
  for _, q in ipairs(WOKEN) do budget = budget + WOKE[q] end
  for _, m in ipairs(offers) do
    local o = cmsgpack.unpack(m)
    if o[2] < NOW then
      redis.call('ZREM', B .. ':of', m)
    else
      local all = #o < 6
      local woken, nudged = all and #WOKEN > 0, all and NUDGED
      if not all then
        for i = 6, #o do
          if WOKE[o[i]] then woken = true end
          if NUDGE[o[i]] then nudged = true end
        end
      end
      local msg = nil
      if woken and budget > 0 then
        local spec = nil
        if not all then
          spec = {}
          for i = 6, #o do spec[#spec + 1] = o[i] end
        end
        local got = {}
        if claimJobs(claimQueues(spec), 1, o[5], o[3], o[4], got) > 0 then
          budget = budget - 1
          msg = 'c|' .. got[1] .. '|' .. got[2] .. '|' .. got[3]
        end
      end
      if not msg and nudged then msg = 'w' end
      if msg then
        redis.call('ZREM', B .. ':of', m)
        redis.call('LPUSH', o[1], msg)
        redis.call('PEXPIRE', o[1], 60000)
      end
    end
  end
end
`],
  [['handOff'], `
-- Hands a job being inserted, due now, straight to the oldest live offer for its queue:
-- it is stored as running for that worker and pushed to its mailbox, without passing
-- through its lane. Equivalent to insert + flushWake, because a live offer means its
-- queues held no due job (an offer claims at once when one is due, and every script
-- that makes a job due serves the offers) -- unless a delayed job has fallen due
-- without being promoted yet, in which case this returns false and the general path
-- (promote, then claim the best job) runs. False too when no offer matches.
local function handOff(id, q, raw)
  local offers = redis.call('ZRANGE', B .. ':of', 0, -1)
  if #offers == 0 then NO_OFFERS = true; return false end
  for _, m in ipairs(offers) do
    local o = cmsgpack.unpack(m)
    if o[2] < NOW then
      redis.call('ZREM', B .. ':of', m)
    else
      local match = #o < 6
      if not match then for i = 6, #o do if o[i] == q then match = true; break end end end
      if match then
        if #o < 6 then
          if #redis.call('ZRANGEBYSCORE', B .. ':queues', '-inf', ARGV[1], 'LIMIT', 0, 1) > 0 then return false end
        else
          local spec = {}
          for i = 6, #o do spec[#spec + 1] = o[i] end
          for _, sc in ipairs(redis.call('ZMSCORE', B .. ':queues', unpack(spec))) do
            if sc and num(sc) <= NOW then return false end
          end
        end
        local r = cmsgpack.unpack(raw)
        local tok = o[4] .. '1'
        r[S] = RUNNING; r[AT] = r[AT] + 1; r[ST] = NOW; r[EN] = false; r[ER] = false; r[TK] = tok; r[WK] = o[5]
        local packed = pack(r)
        redis.call('HSET', ck(id), id, packed)
        redis.call('ZADD', B .. ':r:' .. q, NOW + o[3], id .. ':' .. tok)
        if r[MR] then redis.call('ZADD', B .. ':mr', NOW + r[MR] * 1000, id) end
        ensureQueue(q)
        redis.call('ZREM', B .. ':of', m)
        redis.call('LPUSH', o[1], 'c|' .. id .. '|' .. tok .. '|' .. packed)
        redis.call('PEXPIRE', o[1], 60000)
        return true
      end
    end
  end
  return false
end
`],
];


/**
 * insertJobs. ARGV: now, n, then 5 per job: record (packed by the caller, see codec.ts),
 * queue, priority, startAt|'' (now), coalesceId|''. With n > 1 the 5n job fields come
 * instead as one msgpack array of strings in ARGV[3] (codec.ts packStrings).
 * Reply per job: kind ('n' new / 'e' existing / 'b' same as batch item), id or item index, record for 'e'.
 */
const ENQUEUE = `
local n = tonumber(ARGV[2])
-- Field f of job i is V[at + 5 * (i - 1) + f].
local V, at = ARGV, 2
if n > 1 then V, at = cmsgpack.unpack(ARGV[3]), 0 end
local out = {}
local fresh = {}
local seen = nil
for i = 1, n do
  local cid = V[at + 5 * i]
  if cid == '' then
    fresh[#fresh + 1] = i
  else
    seen = seen or {}
    if seen[cid] then
      out[3 * i - 2] = 'b'; out[3 * i - 1] = seen[cid]; out[3 * i] = false
    else
      local ex = redis.call('HGET', B .. ':co', cid)
      local raw = ex and redis.call('HGET', ck(ex), ex)
      if raw then
        out[3 * i - 2] = 'e'; out[3 * i - 1] = ex; out[3 * i] = raw
      else
        seen[cid] = i
        fresh[#fresh + 1] = i
      end
    end
  end
end
if #fresh > 0 then
  local first = redis.call('INCRBY', B .. ':id', #fresh) - #fresh + 1
  for k, i in ipairs(fresh) do
    local a = at + (i - 1) * 5
    local idn = first + k - 1
    local id = fmt(idn)
    local q, ps = V[a + 2], V[a + 3]
    local runAt = NOW
    if V[a + 4] ~= '' then runAt = tonumber(V[a + 4]) end
    if V[a + 5] ~= '' then redis.call('HSET', B .. ':co', V[a + 5], id) end
    if idn % 100 == 0 or idn == 1 then
      local chunk = math.floor(idn / 100)
      redis.call('ZADD', B .. ':chunks', chunk, chunk)
      -- Forget record hashes that emptied out (Redis deletes an empty hash).
      for _, c in ipairs(redis.call('ZRANGE', B .. ':chunks', 0, 1)) do
        if tonumber(c) < chunk and redis.call('EXISTS', B .. ':j:' .. c) == 0 then redis.call('ZREM', B .. ':chunks', c) end
      end
    end
    if runAt <= NOW and n == 1 and handOff(id, q, V[a + 1]) then
      -- Running already, for an idle worker.
    else
      redis.call('HSET', ck(id), id, V[a + 1])
      if runAt <= NOW then
        insertReady(id, q, tonumber(ps), runAt, ps)
        wake(q, 1)
      else
        addDelayed(id, q, tonumber(ps), runAt)
      end
    end
    out[3 * i - 2] = 'n'; out[3 * i - 1] = id; out[3 * i] = false
  end
end
flushWake()
return out
`;

/**
 * Settles and claims, the hot path: everything a worker's slots asked for in the same
 * tick, in one call. ARGV: now, nSettles, then per settle: jobId, token, outcome
 * (d|c|w|q|f), error, delayMs, maxAttempts|'', queue hint|'', coalesce hint|'',
 * maxRuntime hint 1|0; then nGroups, then per claim group: limit, workerId, leaseMs,
 * token prefix, nQueues (-1 = all), queues…
 * Reply: applied 1|0 and record|nil per settle, then per group: n, and n × (id, token, record).
 */
const WORK = `
local reply = {}
local nS = tonumber(ARGV[2])
-- Settles. Completed-and-deleted jobs whose claim data came along (the common case) are
-- done together: one ZMSCORE per queue is the ownership check for all of them, then one
-- ZREM per queue and one HDEL per record hash. The others go one by one.
local fast, fastByQ, fastQs = {}, {}, {}
for i = 1, nS do
  local a = 2 + (i - 1) * 9
  if ARGV[a + 3] == 'd' and ARGV[a + 7] ~= '' then
    fast[i] = true
    local q = ARGV[a + 7]
    if not fastByQ[q] then fastByQ[q] = {}; fastQs[#fastQs + 1] = q end
    local g = fastByQ[q]
    g[#g + 1] = i
  end
end
local applied = {}
local delByHash, hashes, coDel, mrDel = {}, {}, {}, {}
for _, q in ipairs(fastQs) do
  local items, members = fastByQ[q], {}
  for j, i in ipairs(items) do
    local a = 2 + (i - 1) * 9
    members[j] = ARGV[a + 1] .. ':' .. ARGV[a + 2]
  end
  local scores = redis.call('ZMSCORE', B .. ':r:' .. q, unpack(members))
  local owned, seen = {}, {}
  for j, i in ipairs(items) do
    if scores[j] and not seen[members[j]] then
      seen[members[j]] = true
      owned[#owned + 1] = members[j]
      applied[i] = true
      local a = 2 + (i - 1) * 9
      local id = ARGV[a + 1]
      local k = ck(id)
      if not delByHash[k] then delByHash[k] = {}; hashes[#hashes + 1] = k end
      local d = delByHash[k]
      d[#d + 1] = id
      if ARGV[a + 8] ~= '' then coDel[#coDel + 1] = ARGV[a + 8] end
      if ARGV[a + 9] == '1' then mrDel[#mrDel + 1] = id end
    end
  end
  if #owned > 0 then redis.call('ZREM', B .. ':r:' .. q, unpack(owned)) end
end
for _, k in ipairs(hashes) do redis.call('HDEL', k, unpack(delByHash[k])) end
if #coDel > 0 then redis.call('HDEL', B .. ':co', unpack(coDel)) end
if #mrDel > 0 then redis.call('ZREM', B .. ':mr', unpack(mrDel)) end
for i = 1, nS do
  local a = 2 + (i - 1) * 9
  local id, tok, oc = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local ok, out = 0, false
  if fast[i] then
    if applied[i] then ok = 1 else out = redis.call('HGET', ck(id), id) end
  else
    local r, raw = getRec(id)
    if r and r[S] == RUNNING and r[TK] == tok then
      redis.call('ZREM', B .. ':r:' .. r[Q], id .. ':' .. tok)
      if r[MR] and oc ~= 'w' then redis.call('ZREM', B .. ':mr', id) end
      local maxAtt = nil
      if ARGV[a + 6] ~= '' then maxAtt = tonumber(ARGV[a + 6]) end
      ok = 1
      out = applyOutcome(id, r, oc, ARGV[a + 4], tonumber(ARGV[a + 5]), maxAtt)
    else
      out = raw
    end
  end
  reply[#reply + 1] = ok
  reply[#reply + 1] = out
end
local a = 2 + nS * 9
-- Claims, one group per distinct request: how many, then id, token, record each.
a = a + 1
for _ = 1, tonumber(ARGV[a]) do
  local L, workerId, leaseMs, tokPrefix, nq = tonumber(ARGV[a + 1]), ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4], tonumber(ARGV[a + 5])
  a = a + 5
  local spec = nil
  if nq >= 0 then
    spec = {}
    for i = 1, nq do spec[i] = ARGV[a + i] end
    a = a + nq
  end
  local at = #reply + 1
  reply[at] = 0
  reply[at] = claimJobs(claimQueues(spec), L, workerId, leaseMs, tokPrefix, reply)
end
flushWake()
return reply
`;

/** settleWaitAsync. ARGV: now, id, outcome, error, delayMs, maxAttempts|''. Reply: {-1} missing | {applied, record}. */
const SETTLE_WAIT = `
local id = ARGV[2]
local r, raw = getRec(id)
if not r then return { -1 } end
if r[S] ~= WAITING then return { 0, raw } end
if ARGV[3] == 'w' then return { 1, raw } end
redis.call('ZREM', B .. ':w:' .. r[Q], id)
if r[MR] then redis.call('ZREM', B .. ':mr', id) end
local maxAtt = nil
if ARGV[6] ~= '' then maxAtt = tonumber(ARGV[6]) end
local out = applyOutcome(id, r, ARGV[3], ARGV[4], tonumber(ARGV[5]), maxAtt)
flushWake()
return { 1, out }
`;

/** release. ARGV: now, n, then id, token per claim. Reply: id, record per released job. */
const RELEASE = `
local out = {}
for i = 1, tonumber(ARGV[2]) do
  local id, tok = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  local r = getRec(id)
  if r and r[S] == RUNNING and r[TK] == tok then
    redis.call('ZREM', B .. ':r:' .. r[Q], id .. ':' .. tok)
    if r[MR] then redis.call('ZREM', B .. ':mr', id) end
    r[S] = QUEUED; r[AT] = math.max(0, r[AT] - 1); r[TK] = false; r[WK] = false
    out[#out + 1] = id
    out[#out + 1] = putRec(id, r)
    place(id, r)
  end
end
flushWake()
return out
`;

/**
 * Hands back jobs claimed with these tokens whose claim reply never arrived (the
 * connection dropped mid-call). ARGV: now, n, tokens… Reply: released ids.
 */
const RECOVER = `
local want = {}
for i = 1, tonumber(ARGV[2]) do want[ARGV[2 + i]] = true end
local out = {}
for _, q in ipairs(redis.call('ZRANGE', B .. ':queues', 0, -1)) do
  for _, m in ipairs(redis.call('ZRANGE', B .. ':r:' .. q, 0, -1)) do
    local c = string.find(m, ':', 1, true)
    local id, tok = string.sub(m, 1, c - 1), string.sub(m, c + 1)
    if want[tok] then
      local r = getRec(id)
      redis.call('ZREM', B .. ':r:' .. q, m)
      if r and r[S] == RUNNING and r[TK] == tok then
        if r[MR] then redis.call('ZREM', B .. ':mr', id) end
        r[S] = QUEUED; r[AT] = math.max(0, r[AT] - 1); r[TK] = false; r[WK] = false
        putRec(id, r)
        place(id, r)
        out[#out + 1] = id
      end
    end
  end
end
flushWake()
return out
`;

/** extendLeases. ARGV: now, leaseMs, n, then id, token, queue hint|'' per claim. Reply: lost ids. */
const EXTEND = `
local until_ = NOW + tonumber(ARGV[2])
local lost = {}
for i = 1, tonumber(ARGV[3]) do
  local a = 3 + (i - 1) * 3
  local id, tok, q = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  if q == '' then
    local r = getRec(id)
    q = r and r[Q] or nil
  end
  local m = id .. ':' .. tok
  if q and redis.call('ZSCORE', B .. ':r:' .. q, m) then
    redis.call('ZADD', B .. ':r:' .. q, 'XX', until_, m)
  else
    lost[#lost + 1] = id
  end
end
return lost
`;

/**
 * detectHungJobs: reads only the running indexes (by lease deadline) and the
 * maxRuntime index. ARGV: now, mulligan cap, lease message.
 * Reply: old status code, id, record, message per retried job.
 */
const HUNG = `
local cap = tonumber(ARGV[2])
local ids, seen = {}, {}
local function add(id) if not seen[id] then seen[id] = true; ids[#ids + 1] = id end end
for _, q in ipairs(redis.call('ZRANGE', B .. ':queues', 0, -1)) do
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', B .. ':r:' .. q, '-inf', '(' .. ARGV[1])) do
    local c = string.find(m, ':', 1, true)
    local id = string.sub(m, 1, c - 1)
    local r = getRec(id)
    if r and r[S] == RUNNING and id .. ':' .. tostring(r[TK]) == m then add(id)
    else redis.call('ZREM', B .. ':r:' .. q, m) end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', B .. ':mr', '-inf', ARGV[1])) do add(id) end
local out = {}
for _, id in ipairs(ids) do
  local r = getRec(id)
  if not r or (r[S] ~= RUNNING and r[S] ~= WAITING) then
    redis.call('ZREM', B .. ':mr', id)
  else
    local over = r[MR] and r[ST] and (NOW - r[ST] > r[MR] * 1000)
    local expired = false
    if r[S] == RUNNING then
      local sc = redis.call('ZSCORE', B .. ':r:' .. r[Q], id .. ':' .. tostring(r[TK]))
      expired = sc ~= false and num(sc) < NOW
    end
    if over or expired then
      local old = r[S]
      unindex(id, r)
      local maxAtt = r[MA]
      if maxAtt < cap then maxAtt = maxAtt + 1 end
      local msg = ARGV[3]
      if over then msg = 'hung: ran longer than maxRuntimeSeconds (' .. tostring(r[MR]) .. ')' end
      local raw
      if r[AT] < maxAtt then raw = applyOutcome(id, r, 'q', msg, 0, maxAtt)
      else raw = applyOutcome(id, r, 'f', msg, 0, maxAtt) end
      out[#out + 1] = old; out[#out + 1] = id; out[#out + 1] = raw; out[#out + 1] = msg
    end
  end
end
flushWake()
return out
`;

/** restart. ARGV: now, id. Reply: {-1} missing | {old status code, record}. */
const RESTART = `
local id = ARGV[2]
local r = getRec(id)
if not r then return { -1 } end
local old = r[S]
unindex(id, r)
r[S] = QUEUED; r[AT] = 0; r[SA] = false; r[ST] = false; r[EN] = false; r[ER] = false; r[TK] = false; r[WK] = false
r[RA] = NOW
local raw = putRec(id, r)
place(id, r)
flushWake()
return { old, raw }
`;

/** removeJob. ARGV: now, id. Reply: 1 removed, 0 missing. */
const REMOVE = `
local id = ARGV[2]
local r = getRec(id)
if not r then return 0 end
unindex(id, r)
redis.call('HDEL', ck(id), id)
if r[CO] then redis.call('HDEL', B .. ':co', r[CO]) end
redis.call('DEL', B .. ':lk:' .. id)
return 1
`;

/** tryLock. ARGV: now, id, owner, ttlMs. The expiry compares the store clock; PX only collects garbage. */
const LOCK = `
local id = ARGV[2]
if redis.call('HEXISTS', ck(id), id) == 0 then return 'missing' end
local lk = B .. ':lk:' .. id
local cur = redis.call('GET', lk)
if cur then
  local c = string.find(cur, '|', 1, true)
  if string.sub(cur, 1, c - 1) ~= ARGV[3] and tonumber(string.sub(cur, c + 1)) > NOW then return 'locked' end
end
redis.call('SET', lk, ARGV[3] .. '|' .. fmt(NOW + tonumber(ARGV[4])), 'PX', fmt(tonumber(ARGV[4]) + 60000))
return 'acquired'
`;

/** unlock. ARGV: now, id, owner. */
const UNLOCK = `
local lk = B .. ':lk:' .. ARGV[2]
local cur = redis.call('GET', lk)
if cur and string.sub(cur, 1, string.find(cur, '|', 1, true) - 1) == ARGV[3] then redis.call('DEL', lk) end
return 0
`;

/** getByCoalesceId. ARGV: now, coalesce id. Reply: {id, record} or nil. */
const BY_COALESCE = `
local id = redis.call('HGET', B .. ':co', ARGV[2])
if not id then return false end
local raw = redis.call('HGET', ck(id), id)
if not raw then return false end
return { id, raw }
`;

/** count. ARGV: now, queue|'' (all), status codes as digits ("12345"). */
const COUNT = `
local names
if ARGV[2] ~= '' then names = { ARGV[2] } else names = redis.call('ZRANGE', B .. ':queues', 0, -1) end
local n = 0
for _, q in ipairs(names) do
  for c in string.gmatch(ARGV[3], '%d') do n = n + statusCount(q, tonumber(c)) end
end
return n
`;

/**
 * stats. ARGV: now. Reply per queue: name, 5 counts (queued … failed), oldest due run time|nil,
 * queued jobs not due yet.
 * Forgets queues with no job at all.
 */
const STATS = `
local out = {}
for _, q in ipairs(redis.call('ZRANGE', B .. ':queues', 0, -1)) do
  local counts, total = {}, 0
  for code = QUEUED, FAILED do counts[code] = statusCount(q, code); total = total + counts[code] end
  if total == 0 then
    redis.call('ZREM', B .. ':queues', q)
    redis.call('DEL', B .. ':p:' .. q, B .. ':d:' .. q)
  else
    local oldest = nil
    local function see(t) if t and (oldest == nil or t < oldest) then oldest = t end end
    for _, lane in ipairs(redis.call('ZRANGE', B .. ':p:' .. q, 0, -1)) do
      local h = headOfLane(q, lane)
      if h then see(h.at) end
    end
    local d = redis.call('ZRANGE', B .. ':d:' .. q, 0, 0, 'WITHSCORES')
    if d[2] and num(d[2]) <= NOW then see(num(d[2])) end
    out[#out + 1] = q
    for code = QUEUED, FAILED do out[#out + 1] = counts[code] end
    if oldest then out[#out + 1] = fmt(oldest) else out[#out + 1] = false end
    -- Delayed jobs not due yet (due ones are promoted lazily, so they count as due).
    out[#out + 1] = redis.call('ZCOUNT', B .. ':d:' .. q, '(' .. ARGV[1], '+inf')
  end
end
return out
`;

/**
 * jobs, scanning record hashes in id order (any status filter).
 * ARGV: now, queue|'', status codes ("12345"), offset, limit, first chunk, max chunks.
 * Reply: skipped, next chunk (-1 = done), then id, record pairs.
 */
const LIST_SCAN = `
local queue, offset, limit = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])
local want = {}
for c in string.gmatch(ARGV[3], '%d') do want[tonumber(c)] = true end
local current = math.floor(tonumber(redis.call('GET', B .. ':id') or '0') / 100)
local chunks = redis.call('ZRANGEBYSCORE', B .. ':chunks', ARGV[6], '+inf', 'LIMIT', 0, tonumber(ARGV[7]))
local skipped, got = 0, 0
local out = { 0, -1 }
for ci, c in ipairs(chunks) do
  local kv = redis.call('HGETALL', B .. ':j:' .. c)
  if #kv == 0 then
    if tonumber(c) < current then redis.call('ZREM', B .. ':chunks', c) end
  else
    local ids, map = {}, {}
    for i = 1, #kv, 2 do ids[#ids + 1] = tonumber(kv[i]); map[kv[i]] = kv[i + 1] end
    table.sort(ids)
    for _, idn in ipairs(ids) do
      local id = fmt(idn)
      local raw = map[id]
      local r = cmsgpack.unpack(raw)
      if (queue == '' or r[Q] == queue) and want[r[S]] then
        if skipped < offset then
          skipped = skipped + 1
        else
          out[#out + 1] = id; out[#out + 1] = raw
          got = got + 1
          if got >= limit then out[1] = skipped; return out end
        end
      end
    end
  end
  if ci == #chunks and #chunks == tonumber(ARGV[7]) then out[2] = tonumber(c) + 1 end
end
out[1] = skipped
return out
`;

/**
 * jobs for running / wait_async / completed / failed only: reads those indexes.
 * ARGV: now, queue|'', status codes, offset, limit. Reply: id, record pairs.
 */
const LIST_INDEX = `
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local names
if ARGV[2] ~= '' then names = { ARGV[2] } else names = redis.call('ZRANGE', B .. ':queues', 0, -1) end
local need = offset + limit
local ids = {}
for _, q in ipairs(names) do
  for c in string.gmatch(ARGV[3], '%d') do
    local code = tonumber(c)
    if code == RUNNING then
      for _, m in ipairs(redis.call('ZRANGE', B .. ':r:' .. q, 0, -1)) do
        ids[#ids + 1] = tonumber(string.sub(m, 1, string.find(m, ':', 1, true) - 1))
      end
    else
      local k = ({ [WAITING] = ':w:', [COMPLETED] = ':c:', [FAILED] = ':f:' })[code]
      if k then
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', B .. k .. q, '-inf', '+inf', 'LIMIT', 0, need)) do ids[#ids + 1] = tonumber(id) end
      end
    end
  end
end
table.sort(ids)
local out = {}
local last = nil
local kept = 0
for _, idn in ipairs(ids) do
  if idn ~= last then
    last = idn
    kept = kept + 1
    if kept > offset then
      if kept > need then break end
      local id = fmt(idn)
      local raw = redis.call('HGET', ck(id), id)
      if raw then out[#out + 1] = id; out[#out + 1] = raw end
    end
  end
end
return out
`;

/**
 * An idle worker's offer. ARGV: now, deadline, mailbox, leaseMs, token prefix, workerId,
 * nQueues (-1 = all), queues… Claims a due job at once if there is one: {1, id, token, record}.
 * Otherwise registers the offer (served by flushWake) and returns {0, offer, next delayed run time|'+inf'}.
 */
const OFFER = `
local nq = tonumber(ARGV[7])
local spec = nil
if nq >= 0 then
  spec = {}
  for i = 1, nq do spec[i] = ARGV[7 + i] end
end
local names = claimQueues(spec)
local got = {}
if claimJobs(names, 1, ARGV[6], tonumber(ARGV[4]), ARGV[5], got) > 0 then
  return { 1, got[1], got[2], got[3] }
end
local nextDue = math.huge
if spec == nil then
  local r = redis.call('ZRANGE', B .. ':queues', 0, 0, 'WITHSCORES')
  if r[2] then nextDue = num(r[2]) end
elseif #names > 0 then
  for _, sc in ipairs(redis.call('ZMSCORE', B .. ':queues', unpack(names))) do
    if sc then nextDue = math.min(nextDue, num(sc)) end
  end
end
local offer = { ARGV[3], tonumber(ARGV[2]), tonumber(ARGV[4]), ARGV[5], ARGV[6] }
if spec then for _, q in ipairs(spec) do offer[#offer + 1] = q end end
local member = cmsgpack.pack(offer)
redis.call('ZADD', B .. ':of', NOW, member)
if nextDue == math.huge then return { 0, member, '+inf' } end
return { 0, member, fmt(nextDue) }
`;

/** Withdraws an offer. ARGV: now, offer, mailbox. Reply: what reached the mailbox meanwhile. */
const CANCEL = `
redis.call('ZREM', B .. ':of', ARGV[2])
local items = redis.call('LRANGE', ARGV[3], 0, -1)
if #items > 0 then redis.call('DEL', ARGV[3]) end
return items
`;

export const SCRIPTS = {
  enqueue: ENQUEUE,
  work: WORK,
  settleWait: SETTLE_WAIT,
  release: RELEASE,
  recover: RECOVER,
  extend: EXTEND,
  hung: HUNG,
  restart: RESTART,
  remove: REMOVE,
  lock: LOCK,
  unlock: UNLOCK,
  byCoalesce: BY_COALESCE,
  count: COUNT,
  stats: STATS,
  listScan: LIST_SCAN,
  listIndex: LIST_INDEX,
  offer: OFFER,
  cancel: CANCEL,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** The full source of a script: the shared prelude and its body. */
export function scriptSource(name: ScriptName): string {
  // Helpers are closures created on every call, so a script carries only those it uses.
  const body = SCRIPTS[name];
  const refers = (code: string, fn: string) => new RegExp(`\\b${fn}\\b`).test(code);
  let code = body;
  for (let i = LIB.length - 1; i >= 0; i--) {
    const [names, src] = LIB[i]!;
    if (names.some((n) => refers(code, n))) {
      code = src + code;
    }
  }
  return HEADER + code;
}
