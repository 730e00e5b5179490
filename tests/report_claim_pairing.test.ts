// A claim row whose one side comes from a stage that runs once for every seed (a measure of the data alone,
// like Figure 4's pixel-space share) pairs that one value with each seed of the other side.

import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { fromFileUrl, join } from "@std/path";
import { PAPER_CLAIM_IDS } from "../src/paper/claims.ts";
import { writeIndex } from "../src/experiments/index_page.ts";
import { runReproduceCli } from "../src/pipeline/cli.ts";
import type { StageKind } from "../src/pipeline/types.ts";
import { reportStageKind } from "../src/experiments/report_stage.ts";

const REPO_ROOT = fromFileUrl(new URL("..", import.meta.url));

/** Depends on the seed: a share of 0.5 + 0.1 * seed. */
const seededKind: StageKind = {
  name: "toy-features",
  description: "a per-seed share",
  seeds: "each",
  params: {},
  run: (ctx) => Promise.resolve({ share: 0.5 + 0.1 * ctx.seed, scale: "toy" }),
};

/** Does not depend on the seed: runs once however many seeds the pipeline has. */
const onceKind: StageKind = {
  name: "toy-pixels",
  description: "a share of the data alone",
  params: {},
  run: () => Promise.resolve({ share: 0.25, scale: "toy" }),
};

const PIPELINE = (sides: string) =>
  `title: Pairing (toy)
description: toy
claims: [fig4]
stages:
  features:
    kind: toy-features
  pixels:
    kind: toy-pixels
  report:
    kind: report
    needs: [features, pixels]
    params:
      sections:
        - claims:
            - claim: fig4
              difference: ${sides}
              multiply: 100
        - table:
            title: Once for every seed
            rows: pixels
            columns:
              - { label: share, value: share }
        - table:
            title: One row per seed
            rows: features
            columns:
              - { label: share, value: share }
`;

async function claimRow(sides: string, seeds: number) {
  const dir = await Deno.makeTempDir({ prefix: "claim-pairing-" });
  try {
    await Deno.mkdir(join(dir, "pipelines"));
    await Deno.writeTextFile(join(dir, "pipelines/pairing.yaml"), PIPELINE(sides));
    const lines: string[] = [];
    const code = await runReproduceCli(
      ["--pipelines", join(dir, "pipelines"), "--results", join(dir, "results"), "--set", `seeds=${seeds}`],
      {
        stageKinds: [seededKind, onceKind, reportStageKind],
        knownClaimIds: PAPER_CLAIM_IDS,
        writeIndex: (dir, pipelines) => writeIndex(dir, { pipelines }),
        chooseDefaultPreset: () => "smoke",
        describeAdapter: () => "toy adapter",
        projectRoot: REPO_ROOT,
        log: (line) => lines.push(line),
      },
    );
    assertStrictEquals(code, 0, lines.join("\n"));
    // Each pixels stage ran once, each features stage once per seed.
    assertStrictEquals(lines.filter((line) => /\] pixels: running/.test(line)).length, 1, lines.join("\n"));
    const [variant] = [...Deno.readDirSync(join(dir, "results", "_presets"))].map((e) => e.name);
    const outputs = JSON.parse(
      await Deno.readTextFile(join(dir, "results", "_presets", variant, "pairing/report/outputs.json")),
    );
    const page = await Deno.readTextFile(
      join(dir, "results", "_presets", variant, "pairing/report/index.html"),
    );
    return { ...outputs.claims[0], page };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const near = (a: number[], b: number[]) =>
  a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-9);

Deno.test("a seed-independent side of a difference pairs with every seed of the other", async () => {
  const row = await claimRow(`[features.share, pixels.share]`, 3);
  assertEquals(row.seeds, [1, 2, 3]);
  assert(near(row.perSeed, [35, 45, 55]), JSON.stringify(row.perSeed));
  // Either side may be the one that runs once.
  const flipped = await claimRow(`[pixels.share, features.share]`, 3);
  assertEquals(flipped.seeds, [1, 2, 3]);
  assert(near(flipped.perSeed, [-35, -45, -55]), JSON.stringify(flipped.perSeed));
  // One seed: nothing expands, the two values pair as before.
  const single = await claimRow(`[features.share, pixels.share]`, 1);
  assertEquals(single.seeds, [1]);
  assert(near(single.perSeed, [35]), JSON.stringify(single.perSeed));
});

Deno.test("a table of a stage that runs once has no seed column; a per-seed stage's has one", async () => {
  const { page } = await claimRow(`[features.share, pixels.share]`, 3);
  const table = (title: string) => {
    const start = page.indexOf(title);
    assert(start >= 0, `no table "${title}"`);
    return page.slice(start, page.indexOf("</table>", start));
  };
  assert(!/>seed</.test(table("Once for every seed")), table("Once for every seed"));
  assert(/>seed</.test(table("One row per seed")), table("One row per seed"));
});
