--[[
  Claims a notification's dedupe key for the whole dedupe window and names the job the claim is
  for, so exactly one of any number of concurrent callers enqueues it and no confirm step follows.
  A claim past its pending time whose job is neither in the queue (BullMQ or the fair backlog) nor
  recorded as handled by a worker (its claimer died between claim and enqueue) is taken over,
  keeping the claim's job id (a late add by the first claimer is then refused as a duplicate id, by
  BullMQ or by the fair backlog) and its TTL.

  Values: "<staleAtMs>.<jobId without its "notify-" prefix>" until a caller has seen the job queued
  (60 bytes for an e-mail: within jemalloc's 64-byte class); "job.<jobId>" after.

  KEYS[1]  the dedupe key, notify:{tenantId}:{type}:{dedupeKey}
  KEYS[2]  the BullMQ job hash of ARGV[4]
  KEYS[3]  the status hash of ARGV[4], notify-status:{jobId}: read only (a worker creates it when it
           first takes the job; a state other than "queued" means a worker handled it)
  KEYS[4]  the fair backlog's jobs hash of ARGV[4]'s queue (jobId -> JSON of a pending or in-flight
           job; never written for a plain queue): a job there counts as queued, checked in this
           call, so a job entering the fair backlog cannot slip between a check and a takeover.
           BullMQ adds a handed-out job before the backlog forgets it: the job is always in KEYS[2]
           or KEYS[4]
  ARGV[1]  dedupe window in milliseconds
  ARGV[2]  pending time in milliseconds (how long this caller's claim is safe from takeover)
  ARGV[3]  "own" mode: the window bucket ARGV[4] derives from, floor(nowMs / window) by the
           caller's clock
  ARGV[4]  a job id: this call's own ("own"), or the one a reply 3 named ("adopt", "clear")
  ARGV[5]  "own"; "adopt": take over a stale claim of ARGV[4] (same channel, another window's job);
           "clear": delete a stale claim of ARGV[4] (another channel's job), then call again as
           "own". Either re-checks the job in KEYS[2..4] first
  ARGV[6]  "1" on a Redis Cluster, where the keys live in different slots: only KEYS[1] is passed
           (four times) and touched. The caller checks the job (BullMQ and the fair backlog, by
           `getJob`) and its status before a takeover (every stale claim answers reply 3 in "own"
           mode; a job entering the fair backlog between that check and the takeover is then
           refused as a duplicate id) and marks the key enqueued after its enqueue; a lost
           dedupe key is refused by the job id alone (BullMQ keeps a finished job for the window by
           default)

  Returns { code, jobId, nowMs }, nowMs the Redis time of the call:
    { 1, jobId, nowMs }  claimed (own, or taken over): enqueue jobId; the value written is
                         "<nowMs + ARGV[2]>.<jobId without "notify-">"
    { 0, jobId, nowMs }  held by a twin; jobId is '' while its job is not known to be queued
    { 2, '', nowMs }     call again as "own" with ids derived from nowMs (ARGV[3] is not the current
                         bucket by Redis time, or the key changed since reply 3, or it was cleared)
    { 3, jobId, nowMs }  a stale claim names another job id: check it in its queue, then call
                         "adopt" or "clear" with that job's keys
]]
--- @include "nowMs"
--- @include "claimNotification"
return { claimNotification(nowMs(), KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6] == '1') }
