// Runs before the suite (deno task test): the tests that read real data need CIFAR-10, Imagenette and the lab's
// photos. Where they are missing, the suite stops here with one message naming them and the commands that get
// them, instead of dozens of failures; ALEXNET_TEST_WITHOUT=data leaves those tests out on purpose.
import { dataPlaces, datasetEntry, fetchCommand } from "../src/data/datasets.ts";
import { datasetAvailable } from "../src/experiments/resources.ts";
import { SHARED_DATA_DIR } from "../src/data/open.ts";
import { leftOut } from "./helpers/needs.ts";

if (!leftOut("data")) {
  const missing: string[] = [];
  for (const name of ["cifar10", "imagenette"] as const) {
    if (!(await datasetAvailable({ kind: name, path: "", size: 0 }))) {
      missing.push(`${name} (${fetchCommand(await datasetEntry(name))})`);
    }
  }
  const shared = dataPlaces().sharedDir;
  const photos = `${shared ?? SHARED_DATA_DIR}/photos`;
  try {
    if (!shared) throw new Error("no shared data");
    Deno.statSync(photos);
  } catch {
    missing.push(`the lab's photos (${photos}; no download)`);
  }
  if (missing.length) {
    console.error(
      `The test suite needs data that is not on this machine: ${
        missing.join(", ")
      }. Fetch it, or leave the ` +
        "tests that need it out: ALEXNET_TEST_WITHOUT=data deno task test",
    );
    Deno.exit(1);
  }
}
