// For test scripts that need torchvision's AlexNet with random weights: `from random_alexnet import
// random_alexnet` (tools/random_alexnet.py) once `dir` is on their sys.path, with torchvision or without it.
import { TOOLS_DIR } from "../../src/io/python.ts";
import { torchModuleSource, TORCHVISION_ALEXNET_FILE } from "../../src/io/torchvision.ts";
import { loadModelFile } from "../../src/models/index.ts";

/** Writes random_alexnet.py and the net.py it falls back on (our module for torchvision's AlexNet) into `dir`. */
export async function writeRandomAlexnet(dir: string): Promise<void> {
  await Deno.copyFile(`${TOOLS_DIR}/random_alexnet.py`, `${dir}/random_alexnet.py`);
  await Deno.writeTextFile(`${dir}/net.py`, torchModuleSource(await loadModelFile(TORCHVISION_ALEXNET_FILE)));
}
