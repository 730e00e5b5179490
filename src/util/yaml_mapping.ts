/** Reads a YAML file that must hold a mapping (a registry of named entries); errors name the file. */
import { parse } from "yaml";

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The file's top-level mapping; `what` names it in errors ("the dataset registry", "model names"). */
export async function readYamlMapping(
  file: string,
  what: { file: string; entries: string },
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read ${what.file}: ${errorText(e)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid YAML: ${errorText(e).split("\n")[0]}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new Error(`${file}: expected a mapping of ${what.entries}`);
  }
  return doc as Record<string, unknown>;
}
