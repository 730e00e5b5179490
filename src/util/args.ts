// Command-line helpers shared by the train, evaluate and model commands and the benchmarks: a strict
// command-line parser on top of @std/cli's parseArgs, with errors that name the flag (and suggest the
// closest known one), and typed readers for flag values.

import { parseArgs } from "@std/cli/parse-args";
import { closestMatch } from "./suggest.ts";

/** A bad command line: the commands print the message and the usage, and exit with status 2. */
export class UsageError extends Error {}

/** A flag: a string value (`--name VALUE` or `--name=VALUE`) or an on/off switch, with an optional `-x` form. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  /** A string flag that may be repeated: its values in order. */
  multiple?: boolean;
}
export type FlagSpecs = Record<string, FlagSpec>;
/** Each flag's value; undefined when it was not given. */
export type FlagValues<O extends FlagSpecs> = {
  -readonly [K in keyof O]?: O[K]["type"] extends "string"
    ? (O[K]["multiple"] extends true ? string[] : string)
    : boolean;
};

function unknownOption(flag: string, names: string[]): UsageError {
  const near = closestMatch(flag.replace(/^-+/, ""), names);
  return new UsageError(`unknown option ${flag}${near ? ` (did you mean --${near}?)` : ""}`);
}

/**
 * Parses `args` strictly: every flag must be one of `options`, a string flag needs a value (one that starts
 * with "-" only as `--name=-5`), a switch takes none, and positionals (also those after `--`) are allowed only
 * when `positionals` is true. A short flag stands for its long one, and short switches group (`-h`).
 *
 * @std/cli's parseArgs is lenient where these commands are not (it reads `--switch=false`, `--switch false`
 * and `--no-switch`, gives a string flag without a value "" and turns number-like positionals into numbers),
 * so the command line is first checked and rewritten, flag by flag in order, into `--name=value` and
 * `--switch=true` tokens followed by `--` and the positionals, which parseArgs then reads as they are.
 */
export function parseCommandLine<O extends FlagSpecs>(
  args: string[],
  options: O,
  positionals = false,
): { values: FlagValues<O>; positionals: string[] } {
  const names = Object.keys(options);
  const spec = (name: string): FlagSpec | undefined =>
    Object.hasOwn(options, name) ? options[name] : undefined;
  const longOfShort = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) if (o.short) longOfShort.set(o.short, name);
  const shortAndLong = (name: string) => `${options[name].short ? `-${options[name].short}, ` : ""}--${name}`;
  const missing = (name: string) => new UsageError(`Option '${shortAndLong(name)} <value>' argument missing`);
  const ambiguous = (raw: string, example: string) =>
    new UsageError(
      `Option '${raw}' argument is ambiguous.\nDid you forget to specify the option argument for '${raw}'?\n` +
        `To specify an option argument starting with a dash use ${example}.`,
    );
  const unexpected = (arg: string) => new UsageError(`unexpected argument "${arg}"`);
  // The value of a string flag that stands alone (`--name VALUE`, `-x VALUE`): the next argument.
  const separateValue = (i: number, name: string, raw: string) => {
    const value = args[i + 1];
    if (value === undefined) throw missing(name);
    if (value.length > 1 && value.startsWith("-")) {
      throw ambiguous(raw, raw.startsWith("--") ? `'${raw}=-XYZ'` : `'--${name}=-XYZ' or '${raw}-XYZ'`);
    }
    return value;
  };

  // parseArgs reads flags by neutral keys: it would take a flag named `no-x` for the negation of `x`.
  const key = (name: string) => `flag${names.indexOf(name)}`;
  const flags: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < args.length && args[i] !== "--"; i++) {
    const arg = args[i];
    if (arg.length > 2 && arg.startsWith("--")) {
      const eq = arg.indexOf("=", 3);
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const o = spec(name);
      if (!o) throw unknownOption(`--${name}`, names);
      if (o.type === "boolean") {
        if (eq !== -1) throw new UsageError(`Option '${shortAndLong(name)}' does not take an argument`);
        flags.push(`--${key(name)}=true`);
      } else if (eq !== -1) flags.push(`--${key(name)}=${arg.slice(eq + 1)}`);
      else flags.push(`--${key(name)}=${separateValue(i++, name, arg)}`);
    } else if (arg.length > 1 && arg.startsWith("-")) {
      // One short flag or a group of short switches; a short string flag takes the rest of the group
      // (`-xVALUE`) or, last, the next argument.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        const name = longOfShort.get(letter) ?? (spec(letter) ? letter : undefined);
        if (name === undefined) throw unknownOption(`-${letter}`, names);
        if (options[name].type === "boolean") flags.push(`--${key(name)}=true`);
        else {
          const value = j + 1 < arg.length ? arg.slice(j + 1) : separateValue(i++, name, `-${letter}`);
          flags.push(`--${key(name)}=${value}`);
          break;
        }
      }
    } else if (positionals) rest.push(arg);
    else throw unexpected(arg);
  }
  rest.push(...args.slice(i + 1));
  if (!positionals && rest.length) throw unexpected(rest[0]);

  const parsed = parseArgs([...flags, "--", ...rest], {
    string: names.filter((n) => options[n].type === "string").map(key),
    boolean: names.filter((n) => options[n].type === "boolean").map(key),
    collect: names.filter((n) => options[n].multiple).map(key),
    "--": true,
    unknown: (arg: string, key?: string) => {
      throw key === undefined ? unexpected(arg) : unknownOption(`--${key}`, names);
    },
  }) as Record<string, unknown> & { "--": string[] };
  const values: Record<string, string | string[] | boolean> = {};
  for (const name of names) {
    // parseArgs sets every switch (and every repeatable flag); one that was not given is left out here.
    const v = parsed[key(name)];
    if (
      options[name].multiple
        ? Array.isArray(v) && v.length > 0
        : options[name].type === "string"
        ? typeof v === "string"
        : v === true
    ) {
      values[name] = v as string | string[] | boolean;
    }
  }
  return { values: values as FlagValues<O>, positionals: parsed["--"] };
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
