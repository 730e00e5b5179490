// Command-line helpers shared by the train, evaluate and model commands: node:util parseArgs with errors that
// name the flag (and suggest the closest known one), and typed readers for flag values.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { closestMatch } from "../pipeline/suggest.ts";

/** A bad command line: the commands print the message and the usage, and exit with status 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandLine<O extends Options>(args: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: positionals });
  } catch (e) {
    const msg = (e as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(msg);
    if (unknown) {
      const names = Object.keys(options);
      const near = closestMatch(unknown[1].replace(/^-+/, ""), names);
      throw new UsageError(`unknown option ${unknown[1]}${near ? ` (did you mean --${near}?)` : ""}`);
    }
    const positional = /Unexpected argument '([^']+)'/.exec(msg);
    if (positional) throw new UsageError(`unexpected argument "${positional[1]}"`);
    throw new UsageError(msg.split(". ")[0]);
  }
}

/** A number flag; undefined when absent. `int` requires a whole number; `min`/`max` bound it. */
export function numberFlag(
  value: string | undefined,
  name: string,
  o: { int?: boolean; min?: number; max?: number; exclusiveMin?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  const kind = o.int ? "a whole number" : "a number";
  const bounds = [
    o.min !== undefined ? `${o.exclusiveMin ? ">" : ">="} ${o.min}` : "",
    o.max !== undefined ? `<= ${o.max}` : "",
  ].filter(Boolean).join(" and ");
  const bad = value.trim() === "" || !Number.isFinite(v) || (o.int && !Number.isInteger(v)) ||
    (o.min !== undefined && (o.exclusiveMin ? v <= o.min : v < o.min)) || (o.max !== undefined && v > o.max);
  if (bad) throw new UsageError(`--${name}: expected ${kind}${bounds ? ` ${bounds}` : ""}, got "${value}"`);
  return v;
}

/** One of a fixed set of words; undefined when absent. */
export function choiceFlag<T extends string>(value: string | undefined, name: string, choices: readonly T[]) {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name}: expected ${choices.join(" | ")}, got "${value}"`);
  }
  return value as T;
}

/** on/off (also true/false, yes/no); undefined when absent. */
export function onOffFlag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (["on", "true", "yes", "1"].includes(v)) return true;
  if (["off", "false", "no", "0"].includes(v)) return false;
  throw new UsageError(`--${name}: expected on or off, got "${value}"`);
}

/** Runs a command's main; prints errors without a stack trace and exits with 2 (usage) or 1 (failure). */
export async function runCommand(main: () => Promise<number | void>, usage: string): Promise<never> {
  let code = 0;
  try {
    code = (await main()) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n\n${usage}`);
      code = 2;
    } else if (e instanceof DOMException && e.name === "AbortError") {
      console.error(`interrupted: ${e.message}`);
      code = 130;
    } else {
      console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
      if (Deno.env.get("ALEXNET_DEBUG")) console.error(e);
      code = 1;
    }
  }
  Deno.exit(code);
}
