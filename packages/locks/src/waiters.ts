import { randomUUID } from 'node:crypto';
import type { LockClient, LockSubscriberConnection } from './client';
import { registerWaitersScript } from './scripts';

/** How long the shared subscriber connection stays open after its last waiter left. */
const SUBSCRIBER_IDLE_MS = 1000;

/**
 * A process's registration in a lock's waiters key lasts this much longer than its latest waiter's
 * deadline: how long a process that died while waiting keeps releases publishing, and roughly how
 * often a process whose waiters keep coming renews its registration.
 */
export const WAITERS_SLACK_MS = 10_000;

/** A registration must outlast a waiter's deadline by at least this much (clock rates differ) to cover it. */
const WAITERS_MARGIN_MS = 1000;

/**
 * One process-local waiter on a release channel. `wakes` counts release messages handed to it and
 * `seen` how many of those its latest attempt already covered: a message that arrives while an
 * attempt is in flight makes the next wait return at once instead of sleeping.
 */
export class Waiter {
  wakes = 0;
  seen = 0;
  /** Set while a releasing lock of this process is handing the lock over to this waiter. */
  reserved = false;
  /** The fencing token of a completed hand-over (0: none). */
  handedFence = 0;
  private timedOutWhileReserved = false;
  private resolve: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly channel: string,
    readonly offer: HandoffOffer | undefined,
  ) {}

  /** True while parked in {@link Waiter.wait}. */
  get parked(): boolean {
    return this.resolve !== undefined;
  }

  /** True while a wake has not been covered by an attempt yet. */
  get pending(): boolean {
    return this.wakes !== this.seen;
  }

  /** Called just before an attempt: it covers every wake received so far. */
  beginAttempt(): void {
    this.seen = this.wakes;
  }

  notify(): void {
    this.wakes++;
    // While a hand-over is in flight the waiter stays parked: the hand-over's outcome wakes it.
    if (!this.reserved) this.wake();
  }

  /** Resolves on the next wake, or after `ms`; at once if a wake is already pending. */
  wait(ms: number): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(() => this.expire(), ms);
    });
  }

  /** Ends a parked {@link Waiter.wait} as its timer does: at once, or, with a hand-over in flight, when that settles. */
  expire(): void {
    // A hand-over in flight must not be abandoned: its outcome decides.
    if (this.reserved) {
      this.timedOutWhileReserved = true;
      return;
    }
    this.wake();
  }

  /** The hand-over succeeded: this waiter owns the lock with `fence`. */
  completeHandoff(fence: number, acquiredAt: number): void {
    this.reserved = false;
    this.handedFence = fence;
    if (this.offer) this.offer.acquiredAt = acquiredAt;
    this.wake();
  }

  /** The hand-over did not happen: keep waiting (or give up, if the wait ran out meanwhile). */
  cancelHandoff(): void {
    this.reserved = false;
    if (this.timedOutWhileReserved || this.pending) this.wake();
  }

  /** Resolves a parked {@link Waiter.wait}. */
  wake(): void {
    this.timedOutWhileReserved = false;
    const resolve = this.resolve;
    if (resolve) {
      this.resolve = undefined;
      clearTimeout(this.timer);
      resolve();
    }
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.resolve = undefined;
  }
}

/** What a lock waiter needs to receive a lock handed over by a releasing lock of this process. */
export interface HandoffOffer {
  readonly token: string;
  readonly ttlMs: number;
  /** The fence counter TTL, or `0` for a lock taken with `fencing: false` (no token issued). */
  readonly fenceTtlMs: number;
  /** `performance.now()` before the request that acquired the lock was sent. */
  acquiredAt: number;
}

/** Consecutive hand-overs within a process before a release goes to everyone (other processes too). */
const MAX_HANDOFF_STREAK = 16;

interface ChannelState {
  waiters: Waiter[];
  subscribed: boolean;
  /**
   * Locks: the waiters key in which this process registers; a release publishes only while that key
   * exists. Undefined for semaphores, whose releases always publish.
   */
  waitersKey: string | undefined;
  /** `performance.now()` until which the registration in `waitersKey` is known to last (0: none yet). */
  registeredUntil: number;
  /** A registration request is in flight. */
  registering: boolean;
  /** The latest deadline (`performance.now()`) of any waiter so far. */
  latestDeadline: number;
  /** Release messages received so far. */
  seq: number;
  handoffStreak: number;
}

/**
 * Whether every release from now on reaches this process: subscribed to the channel and, for a lock,
 * registered in its waiters key (a release publishes only then).
 */
function isReady(state: ChannelState): boolean {
  return state.subscribed && (state.waitersKey === undefined || state.registeredUntil > 0);
}

/**
 * The one subscriber connection per client (a `duplicate()`), shared by every waiter of that client
 * in this process. A release wakes the oldest local waiter of its key that has no wake pending, so a
 * release costs one retry per process rather than one per waiter. Opened on first contention, closed
 * when idle or when the parent client ends.
 *
 * For locks, the process also registers (once per contention, by its `id`) in the lock's waiters
 * key, since a release publishes only while that key exists. No wake is lost: a release before the
 * process is both subscribed and registered may not have reached it, so once both are confirmed
 * every waiter so far tries again (after that release, so it sees it); every release after that
 * publishes and reaches it. Later waiters compare release counts ({@link ReleaseSubscriber.seqOf})
 * from before their first attempt. The registration lasts past the latest deadline of the process's
 * waiters (renewed when a later one arrives) and is removed when the last waiter leaves.
 */
/** A client that can open a Pub/Sub connection (see {@link LockClient}). */
export type SubscribingClient = LockClient & Required<Pick<LockClient, 'duplicate' | 'on'>>;

function canSubscribe(client: LockClient): client is SubscribingClient {
  return typeof client.duplicate === 'function' && typeof client.on === 'function';
}

class ReleaseSubscriber {
  /** This client's id in waiters keys: random, one per client and process. */
  readonly id = randomUUID();
  private connection: LockSubscriberConnection | undefined;
  private readonly channels = new Map<string, ChannelState>();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly parent: SubscribingClient) {
    parent.on('end', () => this.close());
  }

  /**
   * True when waiters of this process already queue for `channel`. A newcomer may join them without
   * an attempt of its own: it is woken with them when they become ready, and {@link register}
   * extends the registration to its deadline.
   */
  hasWaiters(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** Release messages seen on `channel` so far (-1 when a release might not reach this process yet). */
  seqOf(channel: string): number {
    const state = this.channels.get(channel);
    return state && isReady(state) ? state.seq : -1;
  }

  /**
   * Adds a waiter for `channel`, waiting until `deadline` (`performance.now()`); with `waitersKey`
   * (locks), makes sure this process is registered there until past that deadline.
   */
  register(channel: string, seqBefore: number, offer: HandoffOffer | undefined, waitersKey: string | undefined, deadline: number): Waiter {
    clearTimeout(this.idleTimer);
    const waiter = new Waiter(channel, offer);
    let state = this.channels.get(channel);
    if (!state) {
      state = {
        waiters: [waiter],
        subscribed: false,
        waitersKey,
        registeredUntil: 0,
        registering: false,
        latestDeadline: deadline,
        seq: 0,
        handoffStreak: 0,
      };
      this.channels.set(channel, state);
      this.subscribe(channel, state);
    } else {
      state.waiters.push(waiter);
      if (deadline > state.latestDeadline) state.latestDeadline = deadline;
      // A release announced after the caller's failed attempt started was not seen by it: try once
      // more at once. Not ready yet: readiness wakes everyone.
      if (isReady(state) && state.seq !== seqBefore) waiter.notify();
    }
    this.keepRegistered(channel, state);
    return waiter;
  }

  /**
   * Picks the oldest parked lock waiter of `channel` to hand a released lock to, and reserves it;
   * none after a streak of hand-overs, so that waiters in other processes get their turn.
   */
  reserveForHandoff(channel: string): Waiter | undefined {
    const state = this.channels.get(channel);
    if (!state) return undefined;
    if (state.handoffStreak >= MAX_HANDOFF_STREAK) {
      state.handoffStreak = 0;
      return undefined;
    }
    for (const waiter of state.waiters) {
      if (waiter.offer && waiter.parked && !waiter.reserved && waiter.handedFence === 0) {
        waiter.reserved = true;
        state.handoffStreak++;
        return waiter;
      }
    }
    return undefined;
  }

  unregister(waiter: Waiter): void {
    waiter.cancel();
    const state = this.channels.get(waiter.channel);
    if (!state) return;
    const index = state.waiters.indexOf(waiter);
    if (index >= 0) state.waiters.splice(index, 1);
    // A wake this waiter did not use (it gave up or succeeded meanwhile) goes to the next one.
    if (waiter.pending) this.wakeOne(state);
    if (state.waiters.length > 0) return;
    this.channels.delete(waiter.channel);
    if (state.subscribed) this.connection?.unsubscribe(waiter.channel).catch(() => undefined);
    // Releases stop publishing once no process is registered. Sent after any registration of this
    // state on the same connection, so it lands after it; a new state registers after it in turn.
    // If it is lost, the registration expires by itself.
    if (state.waitersKey !== undefined && (state.registering || state.registeredUntil > 0)) {
      this.parent.zrem(state.waitersKey, this.id).catch(() => undefined);
    }
    if (this.channels.size === 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        if (this.channels.size === 0) this.close();
      }, SUBSCRIBER_IDLE_MS);
      this.idleTimer.unref();
    }
  }

  private subscribe(channel: string, state: ChannelState): void {
    const connection = this.connect();
    if (!connection) return;
    connection.subscribe(channel).then(
      () => {
        if (this.channels.get(channel) !== state) return;
        const wasReady = isReady(state);
        state.subscribed = true;
        if (!wasReady && isReady(state)) this.becameReady(state);
      },
      // No Pub/Sub (ACL, proxy, Redis down): waiters still poll and wake at the holder's expiry.
      () => undefined,
    );
  }

  /**
   * Registers this process in the lock's waiters key until `WAITERS_SLACK_MS` past the latest deadline
   * of its waiters, unless a registration already covers it (one request at a time; a waiter that
   * arrives meanwhile is covered by the next).
   */
  private keepRegistered(channel: string, state: ChannelState): void {
    const waitersKey = state.waitersKey;
    if (waitersKey === undefined || state.registering) return;
    if (state.registeredUntil >= state.latestDeadline + WAITERS_MARGIN_MS) return;
    state.registering = true;
    const sentAt = performance.now();
    const ms = Math.ceil(state.latestDeadline - sentAt) + WAITERS_SLACK_MS;
    registerWaitersScript.run(this.parent, [waitersKey], [this.id, ms]).then(
      () => {
        if (this.channels.get(channel) !== state) return;
        state.registering = false;
        const wasReady = isReady(state);
        // The key's TTL started after the request was sent: this is a lower bound of its expiry.
        state.registeredUntil = sentAt + ms;
        if (!wasReady && isReady(state)) this.becameReady(state);
        this.keepRegistered(channel, state);
      },
      () => {
        // Redis unreachable or the key refused: releases may not publish; waiters poll and wake at
        // the holder's expiry, and the next waiter of this key tries to register again.
        if (this.channels.get(channel) === state) state.registering = false;
      },
    );
  }

  /** Releases before this point may have been missed: every waiter so far retries once. */
  private becameReady(state: ChannelState): void {
    for (const waiter of state.waiters) waiter.notify();
  }

  private connect(): LockSubscriberConnection | undefined {
    if (this.connection && this.connection.status !== 'end') return this.connection;
    try {
      const connection = duplicateForPubSub(this.parent, 'platform:locks-subscriber');
      connection.on('error', () => undefined);
      connection.on('message', (channel: string) => this.onMessage(channel));
      this.connection = connection;
      return connection;
    } catch {
      return undefined;
    }
  }

  private onMessage(channel: string): void {
    const state = this.channels.get(channel);
    if (!state) return;
    state.seq++;
    state.handoffStreak = 0;
    this.wakeOne(state);
  }

  private wakeOne(state: ChannelState): void {
    for (const waiter of state.waiters) {
      if (!waiter.pending && !waiter.reserved) {
        waiter.notify();
        return;
      }
    }
  }

  private close(): void {
    clearTimeout(this.idleTimer);
    const connection = this.connection;
    this.connection = undefined;
    for (const state of this.channels.values()) state.subscribed = false;
    if (connection && connection.status !== 'end') connection.disconnect();
  }
}

/**
 * A new connection like `client`'s, named `connectionName`: `Redis.duplicate(options)`, or for a
 * Cluster `duplicate(startupNodes, options)` with the name in its nodes' `redisOptions` (a Cluster
 * given `{ connectionName }` as its first argument would take it for its startup nodes).
 */
export function duplicateForPubSub(client: SubscribingClient, connectionName: string): LockSubscriberConnection {
  if (client.isCluster === true) {
    const { redisOptions } = (client as { options?: { redisOptions?: object } }).options ?? {};
    const duplicate = client.duplicate as (nodes: undefined, options: object) => LockSubscriberConnection;
    return duplicate.call(client, undefined, { redisOptions: { ...redisOptions, connectionName } });
  }
  const duplicate = client.duplicate as (options: object) => LockSubscriberConnection;
  return duplicate.call(client, { connectionName });
}

const subscribers = new WeakMap<LockClient, ReleaseSubscriber>();

/** The subscriber of `redis` if one was ever needed (no allocation otherwise). */
export function existingSubscriberOf(redis: LockClient): ReleaseSubscriber | undefined {
  return subscribers.get(redis);
}

/** Release messages seen for `channel` on `redis` so far (-1 when not subscribed). Cheap. */
export function releaseSeq(redis: LockClient, channel: string): number {
  return subscribers.get(redis)?.seqOf(channel) ?? -1;
}

function subscriberFor(redis: LockClient): ReleaseSubscriber | undefined {
  let subscriber = subscribers.get(redis);
  if (!subscriber) {
    if (!canSubscribe(redis)) return undefined;
    subscriber = new ReleaseSubscriber(redis);
    subscribers.set(redis, subscriber);
  }
  return subscriber;
}

/** Decodes the hint of a failed acquisition (`-1 - ms`): how long until the holder's TTL runs out. */
export function hintOf(code: number): number {
  return -code - 1;
}

/**
 * Retries `attempt` (a script returning > 0 on success, `-1 - msUntilFree` otherwise) until it
 * succeeds or `waitMs` has passed: wakes on a release message, at the holder's expiry, or after a
 * jittered fallback delay. Called only after a first attempt failed with `first`. Stops waiting
 * when `signal` aborts (a hand-over to this waiter already in flight still completes).
 * @returns the last attempt's code.
 */
export async function waitForRelease(
  redis: LockClient,
  channel: string,
  attempt: () => Promise<number>,
  first: number,
  waitMs: number,
  retryDelayMs: number,
  seqBefore: number,
  lockWaiting?: { waitersKey: string; offer: HandoffOffer },
  signal?: AbortSignal,
): Promise<number> {
  if (signal?.aborted) return first;
  const deadline = performance.now() + waitMs;
  const subscriber = subscriberFor(redis);
  const waiter = subscriber?.register(channel, seqBefore, lockWaiting?.offer, lockWaiting?.waitersKey, deadline);
  let sleeping: NodeJS.Timeout | undefined;
  let endSleep: (() => void) | undefined;
  const onAbort = () => {
    waiter?.expire();
    clearTimeout(sleeping);
    endSleep?.();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let code = first;
  try {
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || signal?.aborted) return code;
      let delay = retryDelayMs * (0.5 + Math.random());
      const untilFree = hintOf(code);
      // Wake just after the holder's TTL runs out, with a little jitter against a stampede.
      if (untilFree > 0 && untilFree < delay) delay = untilFree + 1 + Math.random() * 4;
      delay = Math.min(delay, remaining);
      if (waiter) {
        await waiter.wait(delay);
        // Handed over by a releasing lock of this process: already ours, no attempt needed.
        if (waiter.handedFence > 0) return waiter.handedFence;
      } else {
        await new Promise<void>((resolve) => {
          endSleep = resolve;
          sleeping = setTimeout(resolve, delay);
        });
      }
      if (signal?.aborted) return code;
      waiter?.beginAttempt();
      code = await attempt();
      if (code > 0) return code;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (waiter) subscriber?.unregister(waiter);
  }
}
