/** Builds CIFAR-10's binary layout from the lab's JPEG copy with its prepare.sh, checked before it is kept. */
import {
  cifar10FolderDigests,
  cifar10Variant,
  describeCifar10Mismatch,
  rememberCifar10Digests,
} from "./cifar10.ts";
import { exists, joinPath } from "./util.ts";

/** Remembers which CIFAR-10 sources were verified (see openVerifiedCifar10), in <cache>/data. */
export const CIFAR10_MARKER_FILE = "cifar10-verified.json";

/**
 * Builds <dir>/cifar-10-batches-bin with `script` (the shared prepare.sh) in a temporary folder beside it, checks
 * the six files against the known builds, and only then renames the folder into place: a failed or refused
 * build leaves nothing that a later open could mistake for the data. Builds take turns (a lock file beside the
 * folder); when another process has built the folder meanwhile, it is kept (and verified on open like any other).
 */
export async function buildCifar10(
  script: string,
  dir: string,
  markerFile: string,
  log: (line: string) => void,
): Promise<void> {
  const bin = joinPath(dir, "cifar-10-batches-bin");
  await Deno.mkdir(dir, { recursive: true });
  // One build at a time (parallel test files, two commands): the others wait, then find the folder built.
  using lock = await Deno.open(joinPath(dir, ".cifar10-build.lock"), { write: true, create: true });
  await lock.lock(true);
  if (await exists(bin)) return;
  const work = await Deno.makeTempDir({ dir, prefix: ".cifar10-build-" });
  try {
    log(`cifar10: building ${bin} with ${script} (needs node and npm)`);
    const out = await new Deno.Command("bash", { args: [script, work], stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
      throw new Error(`cifar10: ${script} failed (exit ${out.code}); nothing was kept:\n${err}`);
    }
    const built = joinPath(work, "cifar-10-batches-bin");
    const digests = await cifar10FolderDigests(built);
    if (cifar10Variant(digests) === "unknown") {
      throw new Error(
        `cifar10: the data ${script} built is not a known CIFAR-10 build: ` +
          `${describeCifar10Mismatch(digests)}; nothing was kept`,
      );
    }
    try {
      await Deno.rename(built, bin);
    } catch (e) {
      // Another process put its (equally verified) build there first.
      if (!(await exists(joinPath(bin, "test_batch.bin")))) throw e;
      return;
    }
    await rememberCifar10Digests(markerFile, dir, digests);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
