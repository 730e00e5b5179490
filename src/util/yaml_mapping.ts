/** Reads a YAML file that must hold a mapping (a registry of named entries); errors name the file. */
import { isScalar, parseDocument, visit } from "yaml";

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The file's top-level mapping; `what` names it in errors ("the dataset registry", "model names").
 * Values under `textKeys` stay as written: an unquoted hex digest such as `sha256: 46307845` or
 * `01234567` would otherwise become a number (or lose its leading zero).
 */
export async function readYamlMapping(
  file: string,
  what: { file: string; entries: string },
  textKeys: readonly string[] = [],
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read ${what.file}: ${errorText(e)}`);
  }
  let doc: unknown;
  try {
    const parsed = parseDocument(text);
    if (parsed.errors.length > 0) throw parsed.errors[0];
    visit(parsed, {
      Pair(_, pair) {
        const { key, value } = pair;
        if (
          isScalar(key) && textKeys.includes(String(key.value)) && isScalar(value) &&
          value.type === "PLAIN" && typeof value.source === "string"
        ) value.value = value.source;
      },
    });
    doc = parsed.toJS();
  } catch (e) {
    throw new Error(`${file}: not valid YAML: ${errorText(e).split("\n")[0]}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new Error(`${file}: expected a mapping of ${what.entries}`);
  }
  return doc as Record<string, unknown>;
}
