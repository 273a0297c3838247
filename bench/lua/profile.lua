-- GET /auth/profile with valid access tokens of many users.
-- BENCH_TOKENS: a file with one access token (JWT) per line, each of a
-- different user and session.  Every thread walks the whole list from its
-- own offset, so consecutive requests use different users.  All request
-- strings are built in init(), request() only picks one.

package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require "common"

local reqs, n, i = {}, 0, 0

setup = common.setup
done = common.done
common.pacing()

function init(args)
    local tokens = common.lines(os.getenv("BENCH_TOKENS"))
    n = #tokens
    assert(n > 0, "no tokens")
    for k, tok in ipairs(tokens) do
        reqs[k] = wrk.format("GET", "/auth/profile",
                             { ["Authorization"] = "Bearer " .. tok })
    end
    i = math.floor(n * thread_index / math.max(thread_count, 1))
end

function request()
    i = i % n + 1
    return reqs[i]
end
