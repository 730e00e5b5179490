// Assertions on thrown errors that take what the error must match as a pattern, a predicate or a class, and
// a promise or a function, so a check reads as one line.

import { assert, assertInstanceOf, AssertionError, assertMatch } from "@std/assert";

type Want = RegExp | ((e: Error) => boolean) | (abstract new (...args: never[]) => Error);

function check(error: unknown, want: Want, msg?: string): Error {
  if (!(error instanceof Error)) throw new AssertionError(`expected an Error, got ${String(error)}`);
  const prefix = msg ? `${msg}: ` : "";
  if (want instanceof RegExp) assertMatch(error.message, want, prefix + error.message);
  else if (want.prototype instanceof Error || want === Error) {
    assertInstanceOf(error, want as abstract new (...args: never[]) => Error, prefix);
  } else assert((want as (e: Error) => boolean)(error), `${prefix}unexpected error: ${error.message}`);
  return error;
}

/** The rejection of `p` (a promise, or a function returning one), checked against `want`. */
export async function assertRejectsWith(
  p: Promise<unknown> | (() => Promise<unknown>),
  want: Want,
  msg?: string,
): Promise<Error> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (error) {
    return check(error, want, msg);
  }
  throw new AssertionError(`${msg ? `${msg}: ` : ""}expected a rejection`);
}

/** The error `fn` throws, checked against `want`. */
export function assertThrowsWith(fn: () => unknown, want: Want, msg?: string): Error {
  try {
    fn();
  } catch (error) {
    return check(error, want, msg);
  }
  throw new AssertionError(`${msg ? `${msg}: ` : ""}expected an exception`);
}
