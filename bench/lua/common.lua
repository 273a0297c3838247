-- Shared by the wrk scripts of `make bench`: thread registry, file loading,
-- optional pacing, and one machine-readable result line from done():
--
--   BENCH requests=N duration_us=N rps=R p50_us=N p90_us=N p99_us=N
--         max_us=N status_errors=N connect_errors=N read_errors=N
--         write_errors=N timeouts=N failures=N ok=N starved=N
--
-- failures/ok are counted by scripts that look at responses (refresh,
-- login, register); the others report 0 and rely on status_errors (wrk's
-- count of HTTP statuses > 399).

local M = {}

local threads = {}

-- wrk runs setup(thread) and then that thread's init() before it sets up
-- the next thread, so the number of threads comes from the runner
-- (BENCH_THREADS = wrk's -t), not from the registry.
function M.setup(thread)
    thread:set("thread_index", #threads)
    thread:set("thread_count", tonumber(os.getenv("BENCH_THREADS") or "1"))
    table.insert(threads, thread)
end

function M.lines(path)
    local t = {}
    local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
    for line in f:lines() do
        if line ~= "" then
            t[#t + 1] = line
        end
    end
    f:close()
    return t
end

-- BENCH_DELAY_MS: every connection waits that long between its answer and
-- its next request (wrk's delay() hook; latency excludes the wait).
function M.pacing()
    local d = tonumber(os.getenv("BENCH_DELAY_MS") or "")
    if d and d > 0 then
        _G.delay = function() return d end
    end
end

function M.done(summary, latency, requests)
    local failures, ok, starved = 0, 0, 0
    for _, t in ipairs(threads) do
        failures = failures + (t:get("failures") or 0)
        ok = ok + (t:get("ok") or 0)
        starved = starved + (t:get("starved") or 0)
    end
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d " ..
        "p99_us=%d max_us=%d status_errors=%d connect_errors=%d " ..
        "read_errors=%d write_errors=%d timeouts=%d failures=%d ok=%d starved=%d\n",
        summary.requests, summary.duration, summary.requests / secs,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, e.status, e.connect, e.read,
        e.write, e.timeout, failures, ok, starved))
end

return M
