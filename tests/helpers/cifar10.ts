// Tiny CIFAR-10 stand-ins for the data tests (see real_cifar10.ts for the real data).
import { assert } from "@std/assert";
import { CIFAR10_CLASSES } from "../../src/data/cifar10.ts";
import { run } from "./run.ts";

export const CIFAR10_FILES = [
  "data_batch_1",
  "data_batch_2",
  "data_batch_3",
  "data_batch_4",
  "data_batch_5",
  "test_batch",
];

/**
 * <dir>/src/cifar-10-batches-bin with six .bin batches and batches.meta.txt, `records` images per batch; image k
 * of batch b has label (b + k) % 10 and every pixel byte (b * 16 + k) & 255. Returns the bin folder.
 */
export async function tinyCifar10Folder(dir: string, records = 3): Promise<string> {
  const bin = `${dir}/src/cifar-10-batches-bin`;
  await Deno.mkdir(bin, { recursive: true });
  for (let b = 0; b < CIFAR10_FILES.length; b++) {
    const data = new Uint8Array(records * 3073);
    for (let k = 0; k < records; k++) {
      data[k * 3073] = (b + k) % 10;
      data.fill((b * 16 + k) & 255, k * 3073 + 1, (k + 1) * 3073);
    }
    await Deno.writeFile(`${bin}/${CIFAR10_FILES[b]}.bin`, data);
  }
  await Deno.writeTextFile(`${bin}/batches.meta.txt`, CIFAR10_CLASSES.join("\n") + "\n\n");
  return bin;
}

/** tinyCifar10Folder packed like the official archive: <dir>/cifar-10-binary.tar.gz. */
export async function tinyCifar10Archive(dir: string, records = 3): Promise<string> {
  await tinyCifar10Folder(dir, records);
  const archive = `${dir}/cifar-10-binary.tar.gz`;
  const out = await run("tar", ["-czf", archive, "-C", `${dir}/src`, "cifar-10-batches-bin"]);
  assert(out.code === 0, out.stderr);
  return archive;
}
