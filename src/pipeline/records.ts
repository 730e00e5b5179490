// Reading the records a run decides from (lockfiles, job records, outputs.json). A missing record only means
// "not run yet"; a damaged one (cut short by a full disk, mangled by a merge) must never be read as missing:
// that would rerun hours of work and overwrite what is left. So it is refused, naming the file and the fix.

/** A record that exists but cannot be read as what it should be. */
export class DamagedRecordError extends Error {
  /** What reruns the record's stages on purpose: `pipeline` (its lockfile) or `pipeline/id` (one outputs.json). */
  forceName?: string;

  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}

/** The parsed JSON of a record file; undefined when there is none. Throws DamagedRecordError when it is not JSON. */
export async function readJsonRecord(path: string): Promise<{ text: string; value: unknown } | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new DamagedRecordError(path, `cannot be read: ${(error as Error).message}`);
  }
  try {
    return { text, value: JSON.parse(text) };
  } catch (error) {
    throw new DamagedRecordError(path, describeJsonError(text, error as Error));
  }
}

/**
 * "not valid JSON: it ends at byte 100, inside a value (cut short?)" for a truncated file, else where the
 * parser stopped (line and column) and what it found there.
 */
export function describeJsonError(text: string, error: Error): string {
  const bytes = new TextEncoder().encode(text).length;
  if (text.trim() === "") return `empty (${bytes} bytes), not a JSON record`;
  const message = error.message;
  const position = /position (\d+)/.exec(message);
  const cutShort = /end of JSON input|Unterminated string/.test(message) ||
    (position !== null && Number(position[1]) >= text.trimEnd().length);
  if (cutShort) return `not valid JSON: it ends at byte ${bytes}, inside a value (cut short?)`;
  const where = /\(line (\d+) column (\d+)\)/.exec(message);
  // V8's message, without the text it quotes (a whole record can be in it).
  const what = message.replace(/( in JSON)? at position \d+.*$/s, "").split(/ is not valid JSON|, "/)[0];
  return `not valid JSON: ${what}${where ? ` at line ${where[1]}, column ${where[2]}` : ""}`;
}

/**
 * The one line a damaged record is reported with: the file, what is wrong, and the remedies (restore it from
 * git; or rerun its stages on purpose, with `rerun` the arguments that do: `depth --force`).
 */
export function describeDamagedRecord(
  error: DamagedRecordError,
  display: (path: string) => string = (path) => path,
  rerun = "--force",
): string {
  const file = display(error.file);
  return `damaged record ${file}: ${error.problem}; restore it with \`git checkout -- ${file}\` (if it is ` +
    `committed), or rerun on purpose with \`deno task reproduce ${rerun}\``;
}

// ---- schema checks: the fields the runner relies on, with their types ----------------------------------------

type Check = (value: unknown) => boolean;

export const isObject: Check = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
export const isString: Check = (v) => typeof v === "string";
export const isNumber: Check = (v) => typeof v === "number" && Number.isFinite(v);
export const isStringMap: Check = (v) => isObject(v) && Object.values(v as object).every(isString);

const TYPE_NAMES = new Map<Check, string>([
  [isObject, "an object"],
  [isString, "a string"],
  [isNumber, "a number"],
  [isStringMap, "an object of strings"],
]);

/**
 * The first field of `record` (at `where`) that is missing or of the wrong type, as "stages.data.inputHash is
 * missing"; undefined when all are there. `optional` fields are checked only when present.
 */
export function checkFields(
  record: Record<string, unknown>,
  where: string,
  required: Record<string, Check>,
  optional: Record<string, Check> = {},
): string | undefined {
  const name = (key: string) => (where ? `${where}.${key}` : key);
  for (const [key, check] of Object.entries(required)) {
    if (!(key in record)) return `${name(key)} is missing`;
    if (!check(record[key])) return `${name(key)} is not ${TYPE_NAMES.get(check) ?? "valid"}`;
  }
  for (const [key, check] of Object.entries(optional)) {
    if (key in record && !check(record[key])) {
      return `${name(key)} is not ${TYPE_NAMES.get(check) ?? "valid"}`;
    }
  }
  return undefined;
}
