/// The Lua scripts that keep Redis the one owner of every run's `seq`, epoch and history.
///
/// Keys of run `R` (the `{R}` hash tag keeps them on one Redis Cluster slot):
/// `rw:{R}:meta` (hash: `epoch`, `seq`), `rw:{R}:hist` (stream: entry `<seq>-0`, field `m` =
/// the event message), channel `rw:{R}:ev` (payload `<epoch> <seq> <event message>`).
/// Instances: `rw:instances` (set of serverIds), `rw:inst:<id>` (its WebSocket count, with a
/// TTL), `rw:inst:<id>:runs` (set of runs it has subscribers for, same TTL).
public enum RedisScripts {
    /// KEYS: meta, hist, channel. ARGV: runId, time, maxEvents, the TTL of a new run, new
    /// epoch, the TTL to set now ('0': leave the keys' TTL as it is), then one event body per
    /// event.
    /// Assigns the next seqs, appends each event message to history (capped) and publishes
    /// it, all atomically and in order. A run without meta (new, expired, or lost by Redis)
    /// starts a new epoch with an empty history; keys created here (a new epoch, or the
    /// history stream of an epoch `read` created) always get a TTL. Returns {epoch, first
    /// seq, last seq}.
    public static let publish = RedisScript("""
    local epoch = redis.call('HGET', KEYS[1], 'epoch')
    local ttl = ARGV[6]
    if not epoch then
      epoch = ARGV[5]
      redis.call('DEL', KEYS[2])
      redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
      if ttl == '0' then ttl = ARGV[4] end
    end
    local n = #ARGV - 6
    local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
    local first = last - n + 1
    if first == 1 and ttl == '0' then ttl = ARGV[4] end -- the history stream is new
    for i = 1, n do
      local s = string.format('%d', first + i - 1)
      local msg = '{"type":"event","runId":"' .. ARGV[1] .. '","seq":' .. s .. ',"time":"' .. ARGV[2] .. '","data":' .. ARGV[6 + i] .. '}'
      redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], s .. '-0', 'm', msg)
      redis.call('PUBLISH', KEYS[3], epoch .. ' ' .. s .. ' ' .. msg)
    end
    if ttl ~= '0' then
      redis.call('EXPIRE', KEYS[1], ttl)
      redis.call('EXPIRE', KEYS[2], ttl)
    end
    return {epoch, first, last}
    """)

    /// KEYS: meta, hist. ARGV: from seq (0: all retained), the epoch the caller holds ('' for
    /// none, '*' for whichever), a new epoch, ttl, '1' to create a missing run (subscribers) or '0' (history
    /// reads), the most entries to return.
    /// Returns {epoch, latest seq, entries, first retained seq} — entries from `from` (from the
    /// start when the caller's epoch is not the run's), each {id, {'m', message}}; {} when the
    /// run is missing and not created.
    public static let read = RedisScript("""
    local epoch = redis.call('HGET', KEYS[1], 'epoch')
    if not epoch then
      if ARGV[5] ~= '1' then return {} end
      epoch = ARGV[3]
      redis.call('DEL', KEYS[2])
      redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
      redis.call('EXPIRE', KEYS[1], ARGV[4])
    end
    local seq = tonumber(redis.call('HGET', KEYS[1], 'seq'))
    local start = '-'
    if (epoch == ARGV[2] or ARGV[2] == '*') and ARGV[1] ~= '0' then start = ARGV[1] .. '-0' end
    local entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', ARGV[6])
    local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
    local firstSeq = seq + 1
    if #oldest > 0 then firstSeq = tonumber(string.match(oldest[1][1], '^(%d+)')) end
    return {epoch, seq, entries, firstSeq}
    """)

    /// KEYS: rw:instances. ARGV: serverId, its WebSocket count, ttl in ms, then the runs it has
    /// subscribers for. Registers this instance, drops instances whose key expired, and
    /// returns {WebSocket connections of live instances, runs with subscribers anywhere}.
    public static let heartbeat = RedisScript("""
    local me = 'rw:inst:' .. ARGV[1]
    redis.call('SET', me, ARGV[2], 'PX', ARGV[3])
    redis.call('DEL', me .. ':runs')
    local i = 4
    while i <= #ARGV do
      local j = math.min(i + 999, #ARGV)
      redis.call('SADD', me .. ':runs', unpack(ARGV, i, j))
      i = j + 1
    end
    redis.call('PEXPIRE', me .. ':runs', ARGV[3])
    redis.call('SADD', KEYS[1], ARGV[1])
    local total = 0
    local sets = {}
    for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
      local c = redis.call('GET', 'rw:inst:' .. id)
      if c then
        total = total + tonumber(c)
        sets[#sets + 1] = 'rw:inst:' .. id .. ':runs'
      else
        redis.call('SREM', KEYS[1], id)
      end
    end
    local active = 0
    if #sets > 0 then active = #redis.call('SUNION', unpack(sets)) end
    return {total, active}
    """)

    /// KEYS: rw:instances. ARGV: serverId. Removes this instance (graceful stop).
    public static let leave = RedisScript("""
    redis.call('SREM', KEYS[1], ARGV[1])
    redis.call('DEL', 'rw:inst:' .. ARGV[1], 'rw:inst:' .. ARGV[1] .. ':runs')
    return 1
    """)

    public static func meta(_ id: String) -> [UInt8] { key(id, ":meta") }
    public static func hist(_ id: String) -> [UInt8] { key(id, ":hist") }
    public static func channel(_ id: String) -> [UInt8] { key(id, ":ev") }

    /// `rw:{<id>}<suffix>`, built in one allocation.
    private static func key(_ id: String, _ suffix: StaticString) -> [UInt8] {
        var k: [UInt8] = []
        k.reserveCapacity(5 + id.utf8.count + suffix.utf8CodeUnitCount)
        k.append(contentsOf: "rw:{".utf8)
        k.append(contentsOf: id.utf8)
        k.append(UInt8(ascii: "}"))
        k.append(contentsOf: UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount))
        return k
    }

    /// The run id of a channel name `rw:{R}:ev`.
    public static func runId(ofChannel c: [UInt8]) -> String? {
        guard c.count > 8, c.starts(with: "rw:{".utf8), c.suffix(4).elementsEqual("}:ev".utf8) else { return nil }
        return String(decoding: c[4..<(c.count - 4)], as: UTF8.self)
    }
}
