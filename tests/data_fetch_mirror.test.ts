// The real datasets through a real HTTP mirror on 127.0.0.1, built in the test from the lab's copy
// (../shared/data): CIFAR-10 packed like the official archive by prepare.sh --tar (accepted as the JPEG rebuild by
// its unpacked content) and the Imagenette archive. A machine without the data gets one line naming the fetch
// command; `data fetch` then `train` uses what was fetched; `train --fetch` fetches then trains.
import { assert, assertMatch, assertStrictEquals } from "@std/assert";
import { leftOut, requireShared } from "./helpers/needs.ts";
import { serveMirror } from "./helpers/http_mirror.ts";
import { run, runDeno } from "./helpers/run.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const cli = (name: string) => `${ROOT}src/cli/${name}.ts`;
const TRAIN_ARGS = [
  "--data",
  "cifar10",
  "--limit-train",
  "256",
  "--limit-test",
  "100",
  "--batch",
  "32",
  "--max-steps",
  "2",
  "--epochs",
  "1",
];

Deno.test({
  name: "data fetch from a mirror built from the lab's copy, then train; train --fetch",
  ignore: leftOut("data"),
  fn: async () => {
    const prepare = requireShared("cifar10/prepare.sh");
    const imagenette = requireShared("imagenette/imagenette2-224.tar.gz");
    const dir = await Deno.makeTempDir({ prefix: "data-mirror-" });
    const mirrorDir = `${dir}/mirror`;
    await Deno.mkdir(mirrorDir);
    const built = await run("bash", [prepare, `${dir}/build`, "--tar"]);
    assertStrictEquals(built.code, 0, built.text);
    await Deno.rename(`${dir}/build/cifar-10-binary.tar.gz`, `${mirrorDir}/cifar-10-binary.tar.gz`);
    await Deno.remove(`${dir}/build`, { recursive: true });
    await Deno.symlink(imagenette, `${mirrorDir}/imagenette2-224.tar.gz`);
    const mirror = serveMirror(mirrorDir);
    const env = (cache: string, withMirror = true) => ({
      ALEXNET_CACHE_DIR: `${dir}/${cache}`,
      ALEXNET_SHARED_DATA: "none",
      ...(withMirror ? { ALEXNET_DATA_MIRROR: mirror.url } : {}),
    });
    try {
      // Nothing here and no mirror: one line with the command and the size.
      const absent = await runDeno(["run", "-A", cli("train"), ...TRAIN_ARGS, "--out", `${dir}/r0`], {
        env: env("c1", false),
      });
      assertStrictEquals(absent.code, 1, absent.text);
      const errors = absent.stderr.split("\n").filter((l) => l.startsWith("error:"));
      assertStrictEquals(errors.length, 1, absent.text);
      assertMatch(errors[0], /cifar10 is not on this machine: .*deno task data fetch cifar10` \(170\.1 MB\)/);

      // fetch: the mirror's archive is not the official one, but its content is the JPEG rebuild.
      const fetched = await runDeno(["run", "-A", cli("data"), "fetch", "cifar10", "imagenette"], {
        env: env("c1"),
      });
      assertStrictEquals(fetched.code, 0, fetched.text);
      assertMatch(fetched.stderr, /cifar10: cifar-10-binary\.tar\.gz: .*MB\/s/);
      assertMatch(fetched.stderr, /is not the official archive, but its content is jpeg-q75/);
      assertMatch(fetched.stdout, /cifar10: jpeg-q75 build at/);
      assertMatch(fetched.stdout, /imagenette: imagenette2-224 build at/);
      const list = await runDeno(["run", "-A", cli("data"), "list"], { env: env("c1") });
      assertMatch(list.stdout, /cifar10\s+verified: jpeg-q75/);
      assertMatch(list.stdout, /imagenette\s+verified: imagenette2-224/);
      const requests = mirror.requests.length;
      // train uses what was fetched, without the mirror.
      const trained = await runDeno(["run", "-A", cli("train"), ...TRAIN_ARGS, "--out", `${dir}/r1`], {
        env: env("c1", false),
      });
      assertStrictEquals(trained.code, 0, trained.text);
      assert((await Deno.stat(`${dir}/r1/result.json`)).isFile);
      assertStrictEquals(mirror.requests.length, requests);

      // train --fetch on an empty cache: fetches, then trains.
      const both = await runDeno(
        ["run", "-A", cli("train"), ...TRAIN_ARGS, "--fetch", "--out", `${dir}/r2`],
        {
          env: env("c2"),
        },
      );
      assertStrictEquals(both.code, 0, both.text);
      assertMatch(both.stderr, /cifar10: jpeg-q75 build verified and in place/);
      assert((await Deno.stat(`${dir}/r2/result.json`)).isFile);
    } finally {
      await mirror.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
