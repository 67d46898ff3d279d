import { describeValue, InvalidArgumentError } from './errors';

// One set of argument checks for every package: hand-written (they run on hot paths), each
// naming the argument and describing the rejected value with describeValue (never String()).

/** The largest ms value a timer accepts (setTimeout clamps anything larger to 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Returns `value` if it is an integer from `min` to `max`, else throws {@link InvalidArgumentError}. */
export function checkInteger(argument: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(argument, `must be an integer ${range}, got ${describeValue(value)}`);
  }
  return value;
}

/** Returns `value` if it is a finite number from `min` to `max`, else throws {@link InvalidArgumentError}. */
export function checkNumber(argument: string, value: unknown, min: number, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Number.MAX_VALUE ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidArgumentError(argument, `must be a number ${range}, got ${describeValue(value)}`);
  }
  return value;
}

/** An integer number of ms from `min` to {@link MAX_TIMER_MS}. */
export function checkMs(argument: string, value: unknown, min = 0): number {
  return checkInteger(argument, value, min, MAX_TIMER_MS);
}

/** Names of providers, pools, schedules and the like: 1–64 of `[A-Za-z0-9_.-]`. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Returns `value` if it matches {@link NAME_PATTERN} (or `pattern`), else throws {@link InvalidArgumentError}. */
export function checkName(argument: string, value: unknown, pattern: RegExp = NAME_PATTERN): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidArgumentError(argument, `must match ${pattern.source}, got ${describeValue(value)}`);
  }
  return value;
}

/** Returns `value` if it is a non-null object (not an array), else throws {@link InvalidArgumentError}. */
export function checkObject<T extends object>(argument: string, value: unknown): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, `must be an object, got ${describeValue(value)}`);
  }
  return value as T;
}
