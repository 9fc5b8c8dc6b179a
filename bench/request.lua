-- One request, repeated by wrk; every answer is checked, so a fast error never counts as work.
-- BENCH_METHOD, BENCH_BODY (JSON), BENCH_AUTHORIZATION: the request;
-- BENCH_EXPECT: text a good answer holds (HTTP 200 and this text: counted "ok", else "bad").
-- BENCH_BODIES: several bodies, one per line, sent in turn instead of BENCH_BODY (logins
-- spread over many accounts, as real traffic is).
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local bodies = {}
local turn = 0
for line in string.gmatch(os.getenv("BENCH_BODIES") or "", "[^\n]+") do
   table.insert(bodies, line)
end

if #bodies > 0 then
   function request()
      turn = turn % #bodies + 1
      return wrk.format(nil, nil, nil, bodies[turn])
   end
end

-- BENCH_AUTHORIZATIONS: several Authorization headers, one per line, sent in turn (signed-in
-- reads spread over many accounts: bench/scale_out.py).
local authorizations = {}
for line in string.gmatch(os.getenv("BENCH_AUTHORIZATIONS") or "", "[^\n]+") do
   table.insert(authorizations, line)
end

if #authorizations > 0 then
   function request()
      turn = turn % #authorizations + 1
      wrk.headers["Authorization"] = authorizations[turn]
      return wrk.format()
   end
end

function init(args)
   ok = 0
   bad = 0
   expect = os.getenv("BENCH_EXPECT") or ""
   wrk.method = os.getenv("BENCH_METHOD") or "GET"
   local body = os.getenv("BENCH_BODY") or ""
   if body ~= "" or #bodies > 0 then
      wrk.body = body
      wrk.headers["Content-Type"] = "application/json"
   end
   local authorization = os.getenv("BENCH_AUTHORIZATION") or ""
   if authorization ~= "" then
      wrk.headers["Authorization"] = authorization
   end
end

function response(status, headers, body)
   if status == 200 and string.find(body, expect, 1, true) then
      ok = ok + 1
   else
      bad = bad + 1
   end
end

function done(summary, latency, requests)
   local good, wrong = 0, 0
   for _, thread in ipairs(threads) do
      good = good + thread:get("ok")
      wrong = wrong + thread:get("bad")
   end
   io.write(string.format("bench-ok %d\nbench-bad %d\n", good, wrong))
   for _, p in ipairs({50, 90, 99}) do
      io.write(string.format("bench-p%d-us %d\n", p, latency:percentile(p)))
   end
   io.write(string.format("bench-requests %d\nbench-duration-us %d\n", summary.requests, summary.duration))
end
