-- events.lua - wrk load: one realistic CXone routing event per request.
--
--   wrk -t2 -c64 -d15s --latency -s bench/events.lua URL
--
-- Each request is a POST of a ~600-byte routing event (the default schema's
-- members plus the extra fields CXone sends) with a unique uuid-shaped id
-- (a random per-thread prefix from /dev/urandom and a per-thread counter)
-- and the current time as an RFC 3339 timestamp with milliseconds.
-- Environment:
--   BENCH_TOKEN      bearer token (default "bench-token")
--   BENCH_OK_STATUS  the status that counts as success (default 200; 204
--                    for the nginx baseline)
--   BENCH_QUEUES     how many distinct routingContext.queueId values (200)
-- At the end one line "WRK_RESULT key=value ..." sums every thread's counts
-- (ok, duplicate, dlq, non_ok, per-status counts) and the latency
-- percentiles in microseconds, for bench/run.sh to parse.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } cxb_timeval;
int gettimeofday(cxb_timeval *tv, void *tz);
]]

local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
ok = 0
dup = 0
dlq = 0
non_ok = 0
statuses = {}
body_len = 0

local counter = 0
local prefix, ok_status, n_queues
local tv = ffi.new("cxb_timeval")
local last_sec, sec_text = -1, ""

local function random_hex(nbytes)
	local f = io.open("/dev/urandom", "rb")
	local raw = f:read(nbytes)
	f:close()
	return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function init(args)
	prefix = random_hex(4) .. "-" .. random_hex(2) .. "-4" .. random_hex(2):sub(2)
	ok_status = tonumber(os.getenv("BENCH_OK_STATUS") or "200")
	n_queues = tonumber(os.getenv("BENCH_QUEUES") or "200")
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "bench-token")
end

-- "2024-05-14T09:31:07.412Z" for now; the seconds part is formatted once
-- per second.
local function now_rfc3339()
	ffi.C.gettimeofday(tv, nil)
	local sec = tonumber(tv.tv_sec)
	if sec ~= last_sec then
		last_sec = sec
		sec_text = os.date("!%Y-%m-%dT%H:%M:%S", sec)
	end
	return string.format("%s.%03dZ", sec_text, math.floor(tonumber(tv.tv_usec) / 1000))
end

local body_fmt = '{"id":"%s-8%03x-%012x",' ..
	'"eventType":"routing:agent-assigned","timestamp":"%s",' ..
	'"tenantId":"11f0a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b",' ..
	'"businessUnitId":4601234,"contactId":"%d",' ..
	'"mediaType":"voice","direction":"inbound",' ..
	'"routingContext":{"queueId":"q-%d","skillId":"sk-billing-en",' ..
	'"skillName":"Billing EN","agentId":"ag-%d","teamId":"team-emea-7",' ..
	'"waitTimeMs":%d,"priority":5,"attempt":1},' ..
	'"retryDirective":{"maxAttempts":3,"backoffMs":500},' ..
	'"customerAttributes":{"language":"en-GB","tier":"gold","region":"emea",' ..
	'"ivrPath":"main>billing>agent"},"schemaVersion":"v1.2"}'

function request()
	counter = counter + 1
	local contact = 581200000000 + counter
	local body = string.format(body_fmt, prefix, tid % 4096, counter,
		now_rfc3339(), contact, 4700 + counter % n_queues,
		20000 + counter % 977, (counter * 37) % 60000)
	body_len = #body
	return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
	if status == ok_status then
		ok = ok + 1
		if body ~= nil and body ~= "" then
			if string.find(body, '"duplicate"', 1, true) then
				dup = dup + 1
			elseif string.find(body, '"dlq"', 1, true) then
				dlq = dlq + 1
			end
		end
	else
		non_ok = non_ok + 1
		statuses[status] = (statuses[status] or 0) + 1
	end
end

function done(summary, latency, requests)
	local t_ok, t_dup, t_dlq, t_non = 0, 0, 0, 0
	local by_status = {}
	for _, t in ipairs(threads) do
		t_ok = t_ok + t:get("ok")
		t_dup = t_dup + t:get("dup")
		t_dlq = t_dlq + t:get("dlq")
		t_non = t_non + t:get("non_ok")
		for s, n in pairs(t:get("statuses")) do
			by_status[s] = (by_status[s] or 0) + n
		end
	end
	local st = {}
	for s, n in pairs(by_status) do
		table.insert(st, s .. ":" .. n)
	end
	local e = summary.errors
	io.write(string.format("non-OK answers: %d%s\n", t_non,
		#st > 0 and (" (" .. table.concat(st, ",") .. ")") or ""))
	io.write(string.format("WRK_RESULT requests=%d duration_us=%d ok=%d duplicate=%d " ..
		"dlq=%d non_ok=%d statuses=%s err_connect=%d err_read=%d err_write=%d " ..
		"err_timeout=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d " ..
		"bytes=%d body_bytes=%d\n",
		summary.requests, summary.duration, t_ok, t_dup, t_dlq, t_non,
		#st > 0 and table.concat(st, ",") or "-", e.connect, e.read, e.write,
		e.timeout, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency:percentile(99.9), latency.max,
		summary.bytes, threads[1]:get("body_len")))
end
