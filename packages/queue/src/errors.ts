import { PlatformError, type PlatformErrorOptions, type ValidationIssue } from '@platform/redis';

/** A queue name part is empty, contains `:` or a character outside `[A-Za-z0-9_-]`. */
export class QueueNameError extends PlatformError {
  constructor(message: string, options?: PlatformErrorOptions) {
    super('QUEUE_NAME_INVALID', message, options);
  }
}

/** One problem found in a payload: where (`path`, e.g. `tenantId` or `items.2.url`) and what. */
export type PayloadIssue = ValidationIssue;

/** A payload does not match its queue's schema. Nothing was enqueued. `issues` lists every problem. */
export class PayloadValidationError extends PlatformError {
  readonly queueName: string;
  readonly issues: readonly PayloadIssue[];

  constructor(queueName: string, issues: readonly PayloadIssue[], options?: PlatformErrorOptions) {
    const list = issues.map((i) => `${i.path || '(payload)'}: ${i.message}`).join('; ');
    super('PAYLOAD_INVALID', `Invalid payload for queue ${queueName}: ${list}`, options);
    this.queueName = queueName;
    this.issues = issues;
  }
}

/** A payload is larger than the queue's `maxPayloadBytes`. Nothing was enqueued. */
export class PayloadTooLargeError extends PlatformError {
  readonly queueName: string;
  readonly sizeBytes: number;
  readonly maxBytes: number;

  constructor(queueName: string, sizeBytes: number, maxBytes: number) {
    super(
      'PAYLOAD_TOO_LARGE',
      `Payload for queue ${queueName} is ${sizeBytes} bytes, over the limit of ${maxBytes} bytes; ` +
        'store large content elsewhere (object storage, database) and enqueue a reference to it',
    );
    this.queueName = queueName;
    this.sizeBytes = sizeBytes;
    this.maxBytes = maxBytes;
  }
}

/**
 * Redis did not accept the job within the producer's bound (`enqueueTimeoutMs`), or refused the
 * connection. The job may not have been enqueued; retrying with the same `jobId` is safe.
 */
export class QueueUnavailableError extends PlatformError {
  readonly queueName: string;

  constructor(queueName: string, message: string, options?: PlatformErrorOptions) {
    super('QUEUE_UNAVAILABLE', `Queue ${queueName} is unavailable: ${message}`, options);
    this.queueName = queueName;
  }
}

/**
 * The master accepted the job, but fewer replicas than the queue's `waitForReplicas.replicas`
 * confirmed it within `waitForReplicas.timeoutMs`, or the connection was re-established before they
 * did (a failover may have happened). The job exists on the master and may or may not survive a
 * failover; retrying with the same `jobId` is safe (BullMQ keeps one job per id) and waits again.
 * A subclass of {@link QueueUnavailableError}, so code that handles that one handles this one too;
 * its `code` is `QUEUE_UNAVAILABLE` as well.
 */
export class QueueNotReplicatedError extends QueueUnavailableError {
  /** Replicas that confirmed the write (0 when the connection changed in between). */
  readonly replicasConfirmed: number;
  /** Replicas the queue requires (`waitForReplicas.replicas`). */
  readonly replicasRequired: number;

  constructor(queueName: string, replicasConfirmed: number, replicasRequired: number, detail: string) {
    super(queueName, `${replicasConfirmed} of ${replicasRequired} required replicas confirmed the job: ${detail}`);
    this.replicasConfirmed = replicasConfirmed;
    this.replicasRequired = replicasRequired;
  }
}

/** Which time limit of a job ran out: `soft` aborts the handler's signal, `hard` fails the job. */
export type TimeLimit = 'soft' | 'hard';

/**
 * A job ran past one of its time limits (`timeouts` of `defineQueue` or of the job). With `limit:
 * 'hard'` the job failed with it (an attempt is spent; retries follow the job's `attempts`); with
 * `limit: 'soft'` it is the `reason` of the handler's `signal`, asking the handler to stop.
 */
export class JobTimeoutError extends PlatformError {
  constructor(
    readonly queueName: string,
    readonly jobId: string | undefined,
    readonly limit: TimeLimit,
    readonly limitMs: number,
  ) {
    super('JOB_TIMEOUT', `Job ${jobId ?? '(no id)'} of queue ${queueName} reached its ${limit} time limit of ${limitMs} ms`);
  }
}

/**
 * An enqueue would take a tenant's backlog (jobs pending in the fair backlog, not yet handed to
 * BullMQ) over its `maxPending`. Nothing was written: with `enqueueBulk`, no job of the batch.
 */
export class TenantBacklogFullError extends PlatformError {
  constructor(
    readonly queueName: string,
    readonly tenantId: string,
    /** The tenant's `maxPending` in effect (code default or runtime override). */
    readonly limit: number,
    /** Jobs of the tenant pending when the enqueue was refused. */
    readonly pending: number,
  ) {
    super(
      'TENANT_BACKLOG_FULL',
      `Tenant ${tenantId} has ${pending} pending jobs on queue ${queueName}; its maxPending is ${limit}, so the enqueue was refused and nothing was written`,
    );
  }
}

/**
 * `promote()` or `changeDelay()` of a job pending in a fair queue's backlog (held for its tenant's
 * turn). BullMQ's would make the job due at once, past the other tenants' turns, so nothing was
 * changed: the fair dispatcher releases it at its turn. (A job the caller delayed is promoted as
 * BullMQ does; to run a pending job sooner, raise its tenant's weight or limits.)
 */
export class FairJobPendingError extends PlatformError {
  constructor(
    readonly queueName: string,
    readonly jobId: string,
    /** The refused call: `promote` or `changeDelay`. */
    readonly operation: string,
  ) {
    super(
      'FAIR_JOB_PENDING',
      `Job ${jobId} of queue ${queueName} is pending in the fair backlog, so ${operation}() was refused and nothing changed: ` +
        "the fair dispatcher releases it at its tenant's turn",
    );
  }
}

/**
 * A tenant control (pause, limits, backlog cap) was asked of a queue without fair scheduling:
 * the controls live in the fair scheduler. Define the queue with `fairness: 'per-tenant'`.
 */
export class FairnessRequiredError extends PlatformError {
  readonly queueName: string;

  constructor(queueName: string, detail = '') {
    super(
      'FAIRNESS_REQUIRED',
      `Queue ${queueName} has no fair scheduling, so tenant controls cannot apply to it${detail}; ` +
        "define it with defineQueue({ ..., fairness: 'per-tenant' }) (or fairness options) in its producers and workers",
    );
    this.queueName = queueName;
  }
}
