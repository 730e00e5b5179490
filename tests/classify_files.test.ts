// Which files `deno task classify` takes from its folder arguments: symlinks are followed, but every real file
// and folder is visited once, so link cycles neither repeat images nor hang the walk.
import { assertEquals } from "@std/assert";
import { expandInputs } from "../src/classify/files.ts";

async function tree(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "classify-files-" });
  await Deno.mkdir(`${dir}/x`);
  await Deno.mkdir(`${dir}/y`);
  await Deno.writeTextFile(`${dir}/a.png`, "not decoded here");
  await Deno.writeTextFile(`${dir}/x/b.jpg`, "");
  await Deno.writeTextFile(`${dir}/y/c.jpeg`, "");
  return dir;
}

const paths = (items: { path: string }[]) => items.map((i) => i.path);

Deno.test("expandInputs: a folder linking to itself gives each image once", async () => {
  const dir = await tree();
  try {
    await Deno.symlink(".", `${dir}/loop`);
    assertEquals(paths(await expandInputs([dir])), [`${dir}/a.png`, `${dir}/x/b.jpg`, `${dir}/y/c.jpeg`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("expandInputs: two folders linking to each other finish, each image once", async () => {
  const dir = await tree();
  try {
    await Deno.symlink("../y", `${dir}/x/to-y`);
    await Deno.symlink("../x", `${dir}/y/to-x`);
    await Deno.symlink("..", `${dir}/x/up`);
    // Sorted, depth-first: y's image is first met through x/to-y.
    assertEquals(paths(await expandInputs([dir])), [
      `${dir}/a.png`,
      `${dir}/x/b.jpg`,
      `${dir}/x/to-y/c.jpeg`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("expandInputs: links to files and folders elsewhere are followed once; named files stay as named", async () => {
  const dir = await tree();
  const other = await Deno.makeTempDir({ prefix: "classify-files-other-" });
  try {
    await Deno.writeTextFile(`${other}/d.png`, "");
    await Deno.symlink(other, `${dir}/x/other`);
    await Deno.symlink(`${dir}/a.png`, `${dir}/y/alias.png`);
    await Deno.symlink(`${dir}/missing.png`, `${dir}/y/dangling.png`);
    assertEquals(paths(await expandInputs([dir])), [
      `${dir}/a.png`,
      `${dir}/x/b.jpg`,
      `${dir}/x/other/d.png`,
      `${dir}/y/c.jpeg`,
    ]);
    // Folder arguments share what was visited; files named on the command line are always taken.
    assertEquals(paths(await expandInputs([`${dir}/x`, dir, `${dir}/a.png`])), [
      `${dir}/x/b.jpg`,
      `${dir}/x/other/d.png`,
      `${dir}/a.png`,
      `${dir}/y/c.jpeg`,
      `${dir}/a.png`,
    ]);
    // A folder already walked is no error ("holds no images"): its images are listed under the first one.
    assertEquals(await expandInputs([dir, `${dir}/x`]), await expandInputs([dir]));
    assertEquals(await expandInputs([`${dir}/y/dangling.png`]), [{
      path: `${dir}/y/dangling.png`,
      error: `${dir}/y/dangling.png: no such file or folder`,
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});
