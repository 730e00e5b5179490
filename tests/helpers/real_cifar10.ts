// The real CIFAR-10 for tests, built (or found) the way the project's commands do it, so the tests that need it
// run on a fresh clone instead of being skipped.
import { ensureCifar10 } from "../../src/data/open.ts";

/**
 * The real CIFAR-10 in the project's default cache (<project>/.cache/data, or $ALEXNET_CACHE_DIR/data), built
 * there with the shared prepare.sh when missing, exactly as `deno task train` would: the folder holding
 * cifar-10-batches-bin/. Fails (loudly) when it can be neither found nor built.
 */
export function realCifar10(): Promise<string> {
  return ensureCifar10({ log: (m) => console.error(m) });
}
