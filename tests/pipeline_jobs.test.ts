// --jobs, --job I, --merge and --slurm's scripts and refusals, on the two-arm test pipeline
// (tests/fixtures/jobs/cli.ts). The real Slurm run is tests/pipeline_slurm.test.ts.

import { assert, assertEquals, assertMatch, assertRejects, assertStrictEquals } from "@std/assert";
import { join } from "@std/path";
import { armsProject, assertSameResults } from "./helpers/jobs.ts";
import type { Lockfile } from "../src/pipeline/lockfile.ts";

const PRESET = ["--preset", "smoke"];

Deno.test("--jobs lists one job per arm with the shared upstream stage; --job out of range is refused", async () => {
  await using p = await armsProject();
  const listed = await p.cli("r", [...PRESET, "--jobs"]);
  assertStrictEquals(listed.code, 0, listed.output);
  assertMatch(listed.output, /\[arms\] 2 jobs/);
  assertMatch(listed.output, /^ {2}0: scale=1: fit\[scale=1\] \(with data\)$/m);
  assertMatch(listed.output, /^ {2}1: scale=2: fit\[scale=2\] \(with data\)$/m);
  assertMatch(listed.output, /^ {2}merge: report$/m);
  for (const bad of ["2", "-1", "one"]) {
    const out = await p.cli("r", [...PRESET, `--job=${bad}`]);
    assertStrictEquals(out.code, 2, out.output);
    assertMatch(
      out.output,
      new RegExp(`--job ${bad}: pipeline arms has 2 jobs \\(0-1\\); --jobs lists them`),
    );
  }
  const both = await p.cli("r", [...PRESET, "--job", "0", "--merge"]);
  assertStrictEquals(both.code, 2);
  assertMatch(both.output, /--job and --merge: choose one/);
  await assertRejects(() => Deno.stat(p.results("r")), Deno.errors.NotFound);
});

Deno.test("two --job runs at once on one results folder lose nothing; the merge equals a local run", async () => {
  await using p = await armsProject();
  // data takes a second, so both jobs want it at the same time: one runs it, the other waits and reuses it.
  const args = [...PRESET, "--set", "data.sleep_ms=1000"];
  const t0 = performance.now();
  const [job0, job1] = await Promise.all([
    p.cli("jobs", [...args, "--job", "0"]),
    p.cli("jobs", [...args, "--job", "1"]),
  ]);
  console.log(`two jobs at once: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assertStrictEquals(job0.code, 0, job0.output);
  assertStrictEquals(job1.code, 0, job1.output);
  const ranData = [job0, job1].filter((job) => /data: running/.test(job.output));
  assertStrictEquals(ranData.length, 1, "one writer for the shared stage\n" + job0.output + job1.output);
  assert([job0, job1].some((job) => /data: waiting for pid \d+ on .*arms job \d/.test(job.output)));
  assert([job0, job1].some((job) => /data: cached/.test(job.output)));
  const folder = p.folder("jobs", args);
  for (const index of [0, 1]) {
    const record = JSON.parse(
      await Deno.readTextFile(join(folder, "arms", "jobs", `${index}.lock.json`)),
    ) as Lockfile;
    assertEquals(Object.keys(record.stages).sort(), ["data", `fit[scale=${index + 1}]`]);
    assert(Object.values(record.stages).every((entry) => entry.status === "done"));
  }
  await assertRejects(() => Deno.stat(join(folder, "arms", "pipeline.lock.json")), Deno.errors.NotFound);
  await assertRejects(() => Deno.stat(join(folder, "arms", "report")), Deno.errors.NotFound);

  const merged = await p.cli("jobs", [...args, "--merge"]);
  assertStrictEquals(merged.code, 0, merged.output);
  assertMatch(merged.output, /merged the records of 2 jobs/);
  assertMatch(merged.output, /report: running/);
  assertMatch(merged.output, /1 ran, 3 cached/);
  const local = await p.cli("local", args);
  assertStrictEquals(local.code, 0, local.output);
  await assertSameResults(folder, p.folder("local", args));
  const again = await p.cli("jobs", [...args, "--merge"]);
  assertMatch(again.output, /0 ran, 4 cached/, "a second merge reuses everything");
});

Deno.test("a merge with missing or failed jobs refuses, naming them, and writes nothing", async () => {
  await using p = await armsProject();
  const missing = await p.cli("r", [...PRESET, "--merge"]);
  assertStrictEquals(missing.code, 1, missing.output);
  assertMatch(missing.output, /job 0 \(scale=1\): no record/);
  assertMatch(missing.output, /job 1 \(scale=2\): no record/);
  assertMatch(missing.output, /nothing was merged; rerun those jobs with --job I/);

  const failed = await p.cli("r", [...PRESET, "--set", "data.fail=true", "--job", "0"]);
  assertStrictEquals(failed.code, 1, failed.output);
  assertMatch(failed.output, /data: FAILED after .*asked to fail/);
  assertMatch(failed.output, /fit\[scale=1\]: skipped, upstream did not finish: data/);
  const ok = await p.cli("r", [...PRESET, "--job", "1"]);
  assertStrictEquals(ok.code, 0, ok.output);
  const refused = await p.cli("r", [...PRESET, "--set", "data.fail=true", "--merge"]);
  assertStrictEquals(refused.code, 1, refused.output);
  assertMatch(refused.output, /job 0 \(scale=1\): data failed: asked to fail/);
  assertMatch(refused.output, /job 0 \(scale=1\): fit\[scale=1\] did not run/);
  // Other --set values, another folder: job 1 ran without them, so it has no record there.
  assertMatch(refused.output, /job 1 \(scale=2\): no record/);
  for (const args of [PRESET, [...PRESET, "--set", "data.fail=true"]]) {
    await assertRejects(
      () => Deno.stat(join(p.folder("r", args), "arms", "pipeline.lock.json")),
      Deno.errors.NotFound,
    );
  }

  // Resubmitting the failed job with the settings the others used completes the set.
  const rerun = await p.cli("r", [...PRESET, "--job", "0"]);
  assertStrictEquals(rerun.code, 0, rerun.output);
  const merged = await p.cli("r", [...PRESET, "--merge"]);
  assertStrictEquals(merged.code, 0, merged.output);
});

Deno.test("--slurm --print writes the array and merge scripts; a missing or refusing sbatch is an error", async () => {
  await using p = await armsProject();
  const printed = await p.cli("r", [
    ...PRESET,
    "--set",
    "fit.epochs=2",
    "--slurm",
    "--print",
    "--partition",
    "gpu",
    "--gpus-per-job",
    "1",
    "--time",
    "01:00:00",
  ]);
  assertStrictEquals(printed.code, 0, printed.output);
  const jobs = join(p.folder("r", [...PRESET, "--set", "fit.epochs=2"]), "arms", "jobs");
  const array = await Deno.readTextFile(join(jobs, "array.sbatch"));
  assertMatch(array, /^#SBATCH --array=0-1$/m);
  assertMatch(array, /^#SBATCH --gres=gpu:1$/m);
  assertMatch(array, /^#SBATCH --partition=gpu$/m);
  assertMatch(array, /^#SBATCH --time=01:00:00$/m);
  const escaped = jobs.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assertMatch(array, new RegExp(`^#SBATCH --output=${escaped}/slurm-%A_%a\\.log$`, "m"));
  assertMatch(
    array,
    /cli\.ts arms --preset smoke --set fit\.epochs=2 --results \S+ --pipelines \S+ --job "\$SLURM_ARRAY_TASK_ID"$/m,
  );
  const merge = await Deno.readTextFile(join(jobs, "merge.sbatch"));
  assertMatch(merge, / --merge$/m);
  assert(!/--gres/.test(merge), "the merge needs no GPU");

  const noSbatch = await p.cli("r", [...PRESET, "--slurm"], { PATH: p.dir });
  assertStrictEquals(noSbatch.code, 1, noSbatch.output);
  assertMatch(noSbatch.output, /sbatch not found on PATH/);

  const bin = join(p.dir, "bin");
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    join(bin, "sbatch"),
    "#!/bin/sh\necho 'sbatch: error: invalid partition specified: gpu' >&2\nexit 1\n",
    { mode: 0o755 },
  );
  const refused = await p.cli("r", [...PRESET, "--slurm", "--partition", "gpu"], {
    PATH: `${bin}:/usr/bin:/bin`,
  });
  assertStrictEquals(refused.code, 1, refused.output);
  assertMatch(
    refused.output,
    /sbatch --parsable .*array\.sbatch refused \(exit code 1\): sbatch: error: invalid partition/,
  );
  await assertRejects(
    () => Deno.stat(join(p.results("r"), "arms", "pipeline.lock.json")),
    Deno.errors.NotFound,
  );
});

Deno.test("jobs and a whole-folder run exclude each other (exit code 3)", async () => {
  await using p = await armsProject();
  // This test process stands for the live holder.
  const holder = JSON.stringify({
    pid: Deno.pid,
    host: Deno.hostname(),
    startedAt: "now",
    pipelines: ["arms"],
  });
  const jobs = join(p.folder("r", PRESET), "arms", "jobs");
  await Deno.mkdir(jobs, { recursive: true });
  await Deno.writeTextFile(join(jobs, "1.run.lock"), holder);
  const plain = await p.cli("r", PRESET);
  assertStrictEquals(plain.code, 3, plain.output);
  assertMatch(
    plain.output,
    new RegExp(`jobs are running on this results folder \\(1\\.run\\.lock: pid ${Deno.pid}`),
  );
  const same = await p.cli("r", [...PRESET, "--job", "1"]);
  assertStrictEquals(same.code, 3, same.output);
  assertMatch(same.output, /1\.run\.lock: another run holds this lock/);
  await Deno.remove(join(jobs, "1.run.lock"));

  await Deno.writeTextFile(join(p.results("r"), ".reproduce.lock"), holder);
  const job = await p.cli("r", [...PRESET, "--job", "0"]);
  assertStrictEquals(job.code, 3, job.output);
  assertMatch(job.output, /another run holds this results folder/);
  await assertRejects(() => Deno.stat(join(p.folder("r", PRESET), "arms", "data")), Deno.errors.NotFound);
});
