// The two-arm test pipeline as a real Slurm job array: scripts/slurm-local.sh starts a single-node cluster on
// localhost (installing slurm-wlm and munge if missing), `--slurm` submits the jobs and the merge, and the
// merged results must equal a local run's. Fails when Slurm cannot be started; ALEXNET_TEST_WITHOUT=slurm
// leaves the test out (tests/helpers/needs.ts).

import { assert, assertMatch, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { armsProject, assertSameResults, ROOT } from "./helpers/jobs.ts";
import { leftOut } from "./helpers/needs.ts";
import { run, type RunResult } from "./helpers/run.ts";

function sh(args: string[], env: Record<string, string>): Promise<RunResult> {
  return run(args[0], args.slice(1), { env });
}

Deno.test({
  name: "--slurm on a real single-node Slurm: job array + merge equal a local run",
  ignore: leftOut("slurm"),
  async fn() {
    await using p = await armsProject();
    const slurmDir = join(p.dir, "slurm");
    const env = {
      SLURM_LOCAL_DIR: slurmDir,
      SLURM_CONF: join(slurmDir, "slurm.conf"),
      SLURM_LOCAL_CTLD_PORT: "16817",
      SLURM_LOCAL_SLURMD_PORT: "16818",
    };
    const script = join(ROOT, "scripts/slurm-local.sh");
    const t0 = performance.now();
    const started = await sh([script, "start"], env);
    try {
      assertStrictEquals(started.code, 0, `scripts/slurm-local.sh start failed:\n${started.text}`);
      console.log(`slurm up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const t1 = performance.now();
      const args = ["--preset", "smoke", "--set", "data.sleep_ms=500"];
      const submitted = await p.cli("slurm", [...args, "--slurm"], env);
      assertStrictEquals(submitted.code, 0, submitted.output);
      const ids = /submitted job array (\d+) \(2 tasks\) and merge job (\d+)/.exec(submitted.output);
      assert(ids, submitted.output);
      const [, arrayId, mergeId] = ids;
      let state = "";
      for (
        let i = 0;
        i < 600 && !/^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY)/.test(state);
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const shown = await sh(["scontrol", "show", "job", mergeId], env);
        state = /JobState=(\S+)/.exec(shown.text)?.[1] ?? "";
      }
      const jobs = join(p.folder("slurm", args), "arms", "jobs");
      const logs: string[] = [];
      for await (const entry of Deno.readDir(jobs)) {
        if (entry.name.endsWith(".log")) {
          logs.push(`== ${entry.name}\n${await Deno.readTextFile(join(jobs, entry.name))}`);
        }
      }
      assertStrictEquals(state, "COMPLETED", `merge job ${mergeId}: ${state}\n${logs.join("\n")}`);
      console.log(`array + merge through slurm: ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      for (const task of [0, 1]) {
        const log = await Deno.readTextFile(join(jobs, `slurm-${arrayId}_${task}.log`));
        assertMatch(log, new RegExp(`\\[arms\\] job ${task} of 2: scale=${task + 1}`));
        assertMatch(log, new RegExp(`fit\\[scale=${task + 1}\\]: done`));
      }
      const taskLogs = await Promise.all(
        [0, 1].map((task) => Deno.readTextFile(join(jobs, `slurm-${arrayId}_${task}.log`))),
      );
      assertStrictEquals(taskLogs.filter((log) => /data: running/.test(log)).length, 1, "one writer of data");
      const local = await p.cli("local", args);
      assertStrictEquals(local.code, 0, local.output);
      await assertSameResults(p.folder("slurm", args), p.folder("local", args));
    } finally {
      const stopped = await sh([script, "stop"], env);
      assertStrictEquals(stopped.code, 0, stopped.text);
    }
  },
});
