-- Baseline (a): the same nginx answering `return 200` with a body of the
-- profile's size, requested with the same headers as profile.lua (an
-- Authorization header of a real token) so requests are the same size too.
-- BENCH_PATH (default /bench/static): another location, e.g. the gated
-- static file of phase 8.

package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require "common"

local reqs, n, i = {}, 0, 0

setup = common.setup
done = common.done
common.pacing()

function init(args)
    local path = os.getenv("BENCH_PATH") or "/bench/static"
    local tokens = common.lines(os.getenv("BENCH_TOKENS"))
    n = #tokens
    for k, tok in ipairs(tokens) do
        reqs[k] = wrk.format("GET", path,
                             { ["Authorization"] = "Bearer " .. tok })
    end
    i = math.floor(n * thread_index / math.max(thread_count, 1))
end

function request()
    i = i % n + 1
    return reqs[i]
end
