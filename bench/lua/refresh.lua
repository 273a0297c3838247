-- POST /auth/refresh along chains of refresh tokens.
--
-- BENCH_TOKENS: one refresh token per line, each of its own session (a
-- chain).  Thread k of T takes lines k+1, k+1+T, ...  A chain is used by one
-- request at a time: its token is taken from the thread's free queue when a
-- request is built, and the rotated token of the answer goes back to the
-- queue when the answer arrives.  (wrk's Lua API does not say which
-- connection a request or answer belongs to, so this queue is how every
-- connection keeps "its own" chain: no chain ever has two refreshes in
-- flight, which the module would treat as reuse and revoke the session.)
-- The seed has more chains than connections.  A refresh that does not
-- answer 200 with a new token breaks its chain: counted in `failures`
-- (and the chain is dropped).  If the queue runs dry, `starved` counts
-- requests sent with an already used token (they fail: 401).

package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require "common"

local q, head, tail = {}, 1, 0
local last
failures, ok, starved = 0, 0, 0

setup = common.setup
done = common.done

function init(args)
    local all = common.lines(os.getenv("BENCH_TOKENS"))
    for k = thread_index + 1, #all, thread_count do
        tail = tail + 1
        q[tail] = all[k]
    end
    assert(tail > 0, "no refresh tokens for this thread")
    last = q[1]
end

function request()
    local tok
    if head <= tail then
        tok = q[head]
        q[head] = nil
        head = head + 1
    else
        starved = starved + 1
        tok = last
    end
    return wrk.format("POST", "/auth/refresh",
        { ["Content-Type"] = "application/json" },
        '{"refresh_token":"' .. tok .. '"}')
end

function response(status, headers, body)
    local tok = status == 200 and body:match('"refresh_token":"([%w_-]+)"')
    if tok then
        ok = ok + 1
        tail = tail + 1
        q[tail] = tok
        last = tok
    else
        failures = failures + 1
    end
end
