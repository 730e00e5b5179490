import { assertNotEquals, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { hashTree } from "../src/pipeline/hash.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "hash-tree-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
  return root;
}

Deno.test("hashTree: the same files give the same digest anywhere; a byte, a name or a new file changes it", async () => {
  const files = { "src/a.ts": "a", "src/sub/b.ts": "b", "kernels/k.wgsl": "k", "deno.json": "{}" };
  const roots = [
    await tree(files),
    await tree(files),
    await tree({ ...files, "src/sub/b.ts": "B" }),
    await tree({ "src/a.ts": "a", "src/sub/c.ts": "b", "kernels/k.wgsl": "k", "deno.json": "{}" }),
    await tree({ ...files, "src/new.ts": "" }),
    await tree({ ...files, "elsewhere/x.ts": "not hashed" }),
  ];
  try {
    const paths = ["src", "kernels", "deno.json", "missing.lock"];
    const [one, two, byte, renamed, added, outside] = await Promise.all(roots.map((r) => hashTree(r, paths)));
    assertStrictEquals(one, two);
    assertStrictEquals(one, outside, "only the paths named count");
    assertNotEquals(one, byte);
    assertNotEquals(one, renamed);
    assertNotEquals(one, added);
  } finally {
    for (const root of roots) await Deno.remove(root, { recursive: true });
  }
});
