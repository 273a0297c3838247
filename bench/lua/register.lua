-- POST /auth/register with a new email each time
-- (r<BENCH_RUN>-<thread>-<n>@bench.test); non-200 counts as a failure.

package.path = os.getenv("BENCH_LUA") .. "/?.lua;" .. package.path
local common = require "common"

local run, pw, n = nil, nil, 0
failures, ok = 0, 0

setup = common.setup
done = common.done

function init(args)
    run = os.getenv("BENCH_RUN")
    pw = os.getenv("BENCH_PASSWORD")
end

function request()
    n = n + 1
    return wrk.format("POST", "/auth/register",
        { ["Content-Type"] = "application/json" },
        string.format('{"name":"Bench Register","email":"r%s-%d-%d@bench.test","password":"%s"}',
                      run, thread_index, n, pw))
end

function response(status, headers, body)
    if status == 200 then ok = ok + 1 else failures = failures + 1 end
end
