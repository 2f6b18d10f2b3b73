-- wrk script for benches/load.py. POST /v1/search with questions in turn (English and Chinese),
-- mode from KEFU_MODE; or, with KEFU_SEQUENCE (a file of JSON bodies, one a line, as load.py
-- --answers writes a Zipf-distributed mix), those bodies in order (to /v1/answer). Key from
-- KEFU_KEY; prints one JSON line of figures when done.
local queries = {
  "How long is the warranty of the X9 Pro battery?",
  "洗衣机显示E21怎么办",
  "my earbuds won't pair with my phone",
  "屏幕碎了保修吗",
  "how do I reset the air conditioner filter indicator",
  "退货需要什么条件",
  "TV-65U no signal HDMI",
  "笔记本电脑电池鼓包怎么处理",
}
local mode = os.getenv("KEFU_MODE") or "bm25"
local key = os.getenv("KEFU_KEY") or "demo-bot-key"
local sequence = os.getenv("KEFU_SEQUENCE")
local bodies = {}
if sequence then
  for line in io.lines(sequence) do
    bodies[#bodies + 1] = line
  end
else
  for i, q in ipairs(queries) do
    bodies[i] = '{"query":"' .. q .. '","mode":"' .. mode .. '","top_k":10}'
  end
end
local n = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key

request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
