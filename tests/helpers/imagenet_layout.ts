// A small folder in ImageNet's layout for tests that take the ImageNet path: the 1000 WordNet-id class folders
// of datasets/imagenet-wnids.txt under train/ and val/, with tiny JPEG photos whose colour names their class
// (so a net, a loader or a label order can be checked against the class an image was written for).

import { Image } from "imagescript";
import { join } from "@std/path";
import { PROJECT_ROOT } from "../../src/data/util.ts";

/** The 1000 ILSVRC-2012 WordNet ids in torchvision's class order (sorted), from datasets/imagenet-wnids.txt. */
export async function imagenetWnids(): Promise<string[]> {
  const text = await Deno.readTextFile(join(PROJECT_ROOT, "datasets/imagenet-wnids.txt"));
  return text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
}

/**
 * The colour of class k: its three decimal digits on a grid of 25 levels per channel (10..235), so every class
 * has its own colour at least 25 levels from any other's, far more than JPEG's or resizing's rounding.
 */
export function classColour(k: number): [number, number, number] {
  return [10 + 25 * (k % 10), 10 + 25 * (Math.floor(k / 10) % 10), 10 + 25 * Math.floor(k / 100)];
}

export interface ImageNetLayoutOptions {
  /** Images per class in train/ and val/ (default 1 each). */
  train?: number;
  val?: number;
}

export interface ImageNetLayout {
  root: string;
  wnids: string[];
}

/**
 * Writes root/train/<wnid>/<wnid>_<i>.JPEG and root/val/<wnid>/ILSVRC2012_val_<n>.JPEG, ImageNet's own names.
 * Training photos are landscape (40x30) and validation photos portrait (30x40), so the loader's short-side
 * resize to 256 and its centre crop both act. Each is the class colour with its lower right quarter in the
 * complementary colour: structure for a network to see, and a check of the decoded geometry.
 */
export async function writeImageNetLayout(
  root: string,
  options: ImageNetLayoutOptions = {},
): Promise<ImageNetLayout> {
  const wnids = await imagenetWnids();
  const perTrain = options.train ?? 1, perVal = options.val ?? 1;
  const photo = async (path: string, k: number, w: number, h: number) => {
    const [r, g, b] = classColour(k);
    const im = new Image(w, h);
    im.fill(Image.rgbaToColor(r, g, b, 255));
    // imagescript counts pixels from 1: this is the lower right quarter.
    im.drawBox(w / 2 + 1, h / 2 + 1, w / 2, h / 2, Image.rgbaToColor(255 - r, 255 - g, 255 - b, 255));
    await Deno.writeFile(path, await im.encodeJPEG(95));
  };
  let valIndex = 0;
  for (const [k, wnid] of wnids.entries()) {
    await Deno.mkdir(join(root, "train", wnid), { recursive: true });
    await Deno.mkdir(join(root, "val", wnid), { recursive: true });
    for (let i = 0; i < perTrain; i++) {
      await photo(join(root, "train", wnid, `${wnid}_${i + 1}.JPEG`), k, 40, 30);
    }
    for (let i = 0; i < perVal; i++) {
      const name = `ILSVRC2012_val_${String(++valIndex).padStart(8, "0")}.JPEG`;
      await photo(join(root, "val", wnid, name), k, 30, 40);
    }
  }
  return { root, wnids };
}
