-- Books one new event per request, for bench/http: on Convene with POST /v1/events
-- (JSON), on Radicale with a PUT of one VEVENT to a new href.
--
-- Usage: wrk -s bench/wrk/create_events.lua URL -- TARGET USERS PHASE PARTICIPANTS
--
--   TARGET        convene or radicale
--   USERS         file from bench/http_users.py: per line the user's id (Convene) or
--                 name (Radicale), the Authorization header value and the e-mail address,
--                 separated by tabs
--   PHASE         whole number that keeps the times and hrefs of one wrk run apart from
--                 those of another on the same server (the warm-up and the measured run)
--   PARTICIPANTS  attendees besides the organizer in each event
--
-- Request n of thread t books slot s = PHASE * PHASE_SLOTS + t * THREAD_SLOTS + n, the
-- 30 minutes from FIRST_START + s * 30 min. No two requests share a slot, so no attendee
-- is ever busy and every request is a real booking. The organizer is user s mod USERS,
-- and the participants are the users that follow it.
--
-- Each response other than 201 Created is counted, and so is each request that a thread
-- makes beyond its THREAD_SLOTS. done() prints one line "result key=value ..." with the
-- counts and wrk's figures, which bench/http reads.

local FIRST_START = 1893715200 -- 2030-01-04T00:00:00Z, a Friday
local SLOT_SECONDS = 1800
-- A thread books at most 200,000 events in one run, 2,000 per second for 100 s, and one
-- run has at most 16 threads.
local THREAD_SLOTS = 200000
local MAX_THREADS = 16
local PHASE_SLOTS = THREAD_SLOTS * MAX_THREADS

local threads = {}

function setup(thread)
  if #threads == MAX_THREADS then
    error("create_events.lua supports at most " .. MAX_THREADS .. " threads; lower wrk's -t")
  end
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local target, users, phase, participants
local requests_made = 0
unexpected = 0
first_unexpected_status = 0
overflow = 0

function init(args)
  target, phase, participants = args[1], tonumber(args[3]), tonumber(args[4])
  if (target ~= "convene" and target ~= "radicale") or not phase or not participants then
    error("usage: wrk -s create_events.lua URL -- convene|radicale USERS PHASE PARTICIPANTS")
  end
  users = {}
  for line in io.lines(args[2]) do
    local id, authorization, email = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
    if not id then
      error("invalid line in " .. args[2] .. "; expected id, Authorization and e-mail separated by tabs")
    end
    table.insert(users, { id = id, authorization = authorization, email = email })
  end
  if #users <= participants then
    error("USERS has " .. #users .. " users; participants need at least " .. (participants + 1))
  end
end

local function utc(seconds, format)
  return os.date("!" .. format, seconds)
end

local function convene_request(slot, organizer, attendees, start, finish)
  local ids = {}
  for _, user in ipairs(attendees) do
    table.insert(ids, '"' .. user.id .. '"')
  end
  local body = string.format(
    '{"title": "Planning %d", "location": "Room %d", "start": "%s", "end": "%s", "participants": [%s]}',
    slot, slot % 40, utc(start, "%Y-%m-%dT%H:%M:%SZ"), utc(finish, "%Y-%m-%dT%H:%M:%SZ"),
    table.concat(ids, ", "))
  local headers = { ["Authorization"] = organizer.authorization, ["Content-Type"] = "application/json" }
  return wrk.format("POST", "/v1/events", headers, body)
end

local function radicale_request(slot, organizer, attendees, start, finish)
  local uid = string.format("bench-%d", slot)
  local lines = {
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Convene//bench//EN",
    "BEGIN:VEVENT",
    "UID:" .. uid .. "@bench.test",
    "DTSTAMP:" .. utc(os.time(), "%Y%m%dT%H%M%SZ"),
    "DTSTART:" .. utc(start, "%Y%m%dT%H%M%SZ"),
    "DTEND:" .. utc(finish, "%Y%m%dT%H%M%SZ"),
    "SUMMARY:Planning " .. slot,
    "LOCATION:Room " .. (slot % 40),
    "ORGANIZER:mailto:" .. organizer.email,
  }
  for _, user in ipairs(attendees) do
    table.insert(lines, "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:" .. user.email)
  end
  table.insert(lines, "END:VEVENT")
  table.insert(lines, "END:VCALENDAR")
  local body = table.concat(lines, "\r\n") .. "\r\n"
  local headers = {
    ["Authorization"] = organizer.authorization,
    ["Content-Type"] = "text/calendar; charset=utf-8",
    ["If-None-Match"] = "*",
  }
  return wrk.format("PUT", "/" .. organizer.id .. "/calendar/" .. uid .. ".ics", headers, body)
end

function request()
  -- A thread past its range books the last slot again; the count fails the run.
  if requests_made == THREAD_SLOTS then
    overflow = overflow + 1
    requests_made = THREAD_SLOTS - 1
  end
  local slot = phase * PHASE_SLOTS + thread_index * THREAD_SLOTS + requests_made
  requests_made = requests_made + 1
  local start = FIRST_START + slot * SLOT_SECONDS
  local organizer_index = slot % #users
  local attendees = {}
  for offset = 1, participants do
    table.insert(attendees, users[(organizer_index + offset) % #users + 1])
  end
  local organizer = users[organizer_index + 1]
  if target == "convene" then
    return convene_request(slot, organizer, attendees, start, start + SLOT_SECONDS)
  end
  return radicale_request(slot, organizer, attendees, start, start + SLOT_SECONDS)
end

function response(status, headers, body)
  if status ~= 201 then
    unexpected = unexpected + 1
    if first_unexpected_status == 0 then
      first_unexpected_status = status
    end
  end
end

function done(summary, latency, requests)
  local unexpected_total, first_status, overflow_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    unexpected_total = unexpected_total + thread:get("unexpected")
    overflow_total = overflow_total + thread:get("overflow")
    if first_status == 0 then
      first_status = thread:get("first_unexpected_status")
    end
  end
  local errors = summary.errors
  io.write(string.format(
    "result requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d unexpected=%d first_unexpected_status=%d overflow=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    unexpected_total, first_status, overflow_total, errors.connect, errors.read, errors.write, errors.timeout))
end
