/**
 * ImageNet's class folders are WordNet ids (n01440764 ...); a folder holding exactly the 1000 of
 * datasets/imagenet-wnids.txt gets the readable names of models/imagenet-classes.json (the same, sorted, order),
 * so a net trained or evaluated on it says "tench", not "n01440764".
 */
import { joinPath, PROJECT_ROOT } from "./util.ts";

let table: Promise<{ wnids: string[]; names: string[] } | null> | undefined;

function readTable() {
  table ??= (async () => {
    try {
      const wnids = (await Deno.readTextFile(joinPath(PROJECT_ROOT, "datasets", "imagenet-wnids.txt")))
        .split("\n").filter((l) => l.length > 0);
      const { classes } = JSON.parse(
        await Deno.readTextFile(joinPath(PROJECT_ROOT, "models", "imagenet-classes.json")),
      ) as { classes: string[] };
      return wnids.length === classes.length ? { wnids, names: classes } : null;
    } catch {
      return null; // Without the files the folder names stand.
    }
  })();
  return table;
}

/** The readable names when `ids` are exactly ImageNet's 1000 WordNet ids in order, else null. */
export async function imagenetNames(ids: readonly string[]): Promise<string[] | null> {
  const t = await readTable();
  if (!t || ids.length !== t.wnids.length || ids.some((id, i) => id !== t.wnids[i])) return null;
  return t.names;
}
