import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, assertTenantId, describeValue, namespacedKey } from '@platform/redis';

/**
 * What a session id may be: 22–128 URL-safe characters (`[A-Za-z0-9_-]`). 22 base64url
 * characters carry 132 bits; ids made by {@link newSessionId} have 32 (192 random bits), as do
 * express-session's own.
 */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** User ids: 1–128 characters, none of them a control character. */
export const USER_ID_PATTERN = /^[^\p{Cc}]{1,128}$/u;

/** Activity ids of the resume cache: 1–256 characters, none of them a control character (as agent job payloads allow). */
export const ACTIVITY_ID_PATTERN = /^[^\p{Cc}]{1,256}$/u;

/** Claude session ids kept by the resume cache: 1–128 of `[A-Za-z0-9_.-]`. */
export const CLAUDE_SESSION_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** A new session id: 24 random bytes (192 bits) as 32 base64url characters. */
export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

function check(argument: string, value: unknown, pattern: RegExp, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    // Session ids are credentials: a rejected one is described by its type and length only.
    const described = argument === 'sessionId' && typeof value === 'string' ? `a string of ${value.length} characters` : describeValue(value);
    throw new InvalidArgumentError(argument, `must be ${rule}, got ${described}`);
  }
  return value;
}

/** Returns `id` if it matches {@link SESSION_ID_PATTERN}, else throws `InvalidArgumentError`. */
export function checkSessionId(id: unknown): string {
  return check('sessionId', id, SESSION_ID_PATTERN, '22-128 URL-safe characters ([A-Za-z0-9_-])');
}

/** Returns `userId` if it matches {@link USER_ID_PATTERN}, else throws `InvalidArgumentError`. */
export function checkUserId(userId: unknown): string {
  return check('userId', userId, USER_ID_PATTERN, '1-128 characters without control characters');
}

/** Returns `tenantId` if it is a valid tenant id, else throws `InvalidArgumentError`. */
export function checkTenantId(tenantId: unknown): string {
  assertTenantId(tenantId);
  return tenantId;
}

/** `session:{sessionId}` (behind the key prefix, if any). */
export function sessionKey(prefix: string, sessionId: string): string {
  return namespacedKey(prefix, 'session', sessionId);
}

/** `session_user:{tenantId}:{userId}`: the sorted set of a user's session ids (behind the key prefix). */
export function userIndexKey(prefix: string, tenantId: string, userId: string): string {
  return namespacedKey(prefix, 'session_user', tenantId, userId);
}

/** `claude_session:{activityId}` (behind the key prefix, if any). */
export function resumeKey(prefix: string, activityId: string): string {
  return namespacedKey(prefix, 'claude_session', activityId);
}
