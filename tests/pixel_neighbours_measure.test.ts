// `kind: pixel-neighbours-measure` in a pipeline: on a tiny image folder whose images are flat grey levels, the
// pixel-space share is what hand counting gives; it runs once however many seeds the pipeline has, and a
// rerun under another code identity reuses its record after its probe.

import { assert, assertStrictEquals } from "@std/assert";
import { fromFileUrl, join } from "@std/path";
import { PAPER_CLAIM_IDS } from "../src/paper/claims.ts";
import { runReproduceCli } from "../src/pipeline/cli.ts";
import { REPRODUCE_STAGE_KINDS } from "../src/experiments/stage_kinds.ts";
import { Image } from "imagescript";

const REPO_ROOT = fromFileUrl(new URL("..", import.meta.url));

Deno.test("Figure 4's pixel-space share: by hand on flat images, once for every seed, probed on reuse", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pixel-neighbours-" });
  try {
    // Grey levels: training a 10, 20; b 100, 110; c 200, 250. Test a 105 (nearest 110, a b), b 108 (110, a b),
    // c 240 (250, a c): nearest-one shares 0, 1, 1.
    const grey = {
      train: { a: [10, 20], b: [100, 110], c: [200, 250] },
      val: { a: [105], b: [108], c: [240] },
    };
    for (const [split, classes] of Object.entries(grey)) {
      for (const [name, levels] of Object.entries(classes)) {
        await Deno.mkdir(join(dir, "images", split, name), { recursive: true });
        for (const level of levels) {
          const image = new Image(8, 8).fill(Image.rgbaToColor(level, level, level, 255));
          await Deno.writeFile(join(dir, "images", split, name, `${level}.png`), await image.encode());
        }
      }
    }
    await Deno.mkdir(join(dir, "pipelines"));
    await Deno.writeTextFile(
      join(dir, "pipelines", "pixels.yaml"),
      `title: Pixel neighbours
description: toy
seeds: 2
stages:
  data:
    kind: dataset
    params: { kind: image-folder, path: ${join(dir, "images")}, size: 8 }
  pixels:
    kind: pixel-neighbours-measure
    needs: data
    params: { neighbours: 1 }
`,
    );
    const run = async (code: string) => {
      const lines: string[] = [];
      const exit = await runReproduceCli(
        ["--pipelines", join(dir, "pipelines"), "--results", join(dir, "results"), "--preset", "cpu"],
        {
          stageKinds: REPRODUCE_STAGE_KINDS,
          knownClaimIds: PAPER_CLAIM_IDS,
          chooseDefaultPreset: () => "cpu",
          describeAdapter: () => "toy adapter",
          projectRoot: REPO_ROOT,
          codeIdentity: () => Promise.resolve(code),
          log: (line) => lines.push(line),
        },
      );
      assertStrictEquals(exit, 0, lines.join("\n"));
      return lines.join("\n");
    };
    const first = await run("code 1");
    assertStrictEquals(first.match(/\] pixels: running/g)?.length, 1, first);
    const outputs = JSON.parse(
      await Deno.readTextFile(join(dir, "results", "pixels", "pixels", "outputs.json")),
    );
    assertStrictEquals(outputs.pixel_neighbour_same_class, 2 / 3);
    assertStrictEquals(outputs.test_images, 3);
    assertStrictEquals(outputs.searched_train_images, 6);
    // Another code identity: the record is reused once its probe (the same search on a few images) agrees.
    const again = await run("code 2");
    assert(/\] pixels: cached/.test(again) && !/\] pixels: running/.test(again), again);
    const lock = JSON.parse(await Deno.readTextFile(join(dir, "results", "pixels", "pipeline.lock.json")));
    assertStrictEquals(
      lock.stages.pixels.verifiedCode,
      "code 2",
      "the record learns the code its probe checked",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
