-- POST /auth/login as the seeded users u000001@bench.test ... (their
-- number in BENCH_USERS, their password in BENCH_PASSWORD).  Each request
-- logs in a different user, from BENCH_USER_FIRST (0 unless set) on; a
-- non-200 answer counts as a failure.

package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require "common"

local users, pw, i = 0, nil, 0
failures, ok = 0, 0

setup = common.setup
done = common.done

function init(args)
    users = tonumber(os.getenv("BENCH_USERS"))
    pw = os.getenv("BENCH_PASSWORD")
    i = (tonumber(os.getenv("BENCH_USER_FIRST") or "0")
         + math.floor(users * thread_index / math.max(thread_count, 1)))
        % users
end

function request()
    i = i % users + 1
    return wrk.format("POST", "/auth/login",
        { ["Content-Type"] = "application/json" },
        string.format('{"email":"u%06d@bench.test","password":"%s"}', i, pw))
end

function response(status, headers, body)
    if status == 200 then ok = ok + 1 else failures = failures + 1 end
end
