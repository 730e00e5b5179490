import { PAPER_CLAIM_IDS } from "../src/paper/claims.ts";
import { assert, assertEquals, AssertionError, assertMatch, assertThrows } from "@std/assert";
import { StageKindRegistry } from "../src/pipeline/registry.ts";
import { parsePipeline } from "../src/pipeline/parse.ts";
import { parseSetArgument, planPipeline } from "../src/pipeline/plan.ts";
import { formatIssue, PipelineValidationError } from "../src/pipeline/errors.ts";
import type { StageKind } from "../src/pipeline/types.ts";
import { editDistance } from "../src/util/suggest.ts";

// Test-only kinds: validation never runs them, so `run` just returns its params.
const echo = async (ctx: { params: Record<string, unknown> }) => await Promise.resolve({ ...ctx.params });
const trainKind: StageKind = {
  name: "toy-train",
  description: "test kind",
  params: {
    epochs: { type: "integer", doc: "epochs", required: true, min: 1 },
    lr: { type: "number", doc: "learning rate", default: 0.1 },
    lrn: { type: "enum", values: ["on", "off"], doc: "LRN", default: "on" },
    sizes: { type: "number[]", doc: "sizes", default: [] },
  },
  run: echo,
};
const evalKind: StageKind = {
  name: "toy-eval",
  description: "test kind",
  params: { crops: { type: "integer", doc: "crops", default: 1 } },
  run: echo,
};
const registry = new StageKindRegistry([trainKind, evalKind]);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new AssertionError("expected an exception");
}

/** Parses `text` as test.yaml and returns the formatted problems (or fails if it parses). */
function problems(text: string): string[] {
  const error = thrown(() =>
    parsePipeline("pipelines/test.yaml", text, registry, { knownClaimIds: PAPER_CLAIM_IDS })
  );
  assert(error instanceof PipelineValidationError, String(error));
  return error.issues.map(formatIssue);
}

function assertProblem(list: string[], pattern: RegExp) {
  assert(list.some((line) => pattern.test(line)), `no problem matches ${pattern}:\n${list.join("\n")}`);
}

const VALID = `title: Test
claims: [lrn]
matrix:
  lrn: [on, off]
presets:
  smoke: {train.epochs: 1}
stages:
  train:
    kind: toy-train
    foreach: matrix
    params: {epochs: 3, lrn: "\${matrix.lrn}"}
  eval:
    kind: toy-eval
    needs: [train]
`;

Deno.test("a valid pipeline parses into stages, matrix and presets", () => {
  const definition = parsePipeline("pipelines/test.yaml", VALID, registry);
  assertEquals(definition.name, "test");
  assertEquals(definition.stages.map((stage) => stage.name), ["train", "eval"]);
  assertEquals(definition.matrix, [{ name: "lrn", values: ["on", "off"] }]); // YAML 1.2: on/off stay strings
  assertEquals(definition.presets.smoke, { "train.epochs": 1 });
});

Deno.test("unknown keys name file:line:col and suggest the closest key", () => {
  const list = problems(VALID.replace("stages:", "stagse:"));
  assertProblem(
    list,
    /^pipelines\/test\.yaml:7:1: stagse: unknown top-level key "stagse" \(did you mean "stages"\?\)/,
  );
  const stageKey = problems(VALID.replace("    needs: [train]", "    need: [train]"));
  assertProblem(
    stageKey,
    /test\.yaml:14:5: stages\.eval\.need: unknown stage key "need" \(did you mean "needs"\?\)/,
  );
});

Deno.test("unknown stage kind suggests a registered one", () => {
  const list = problems(VALID.replace("kind: toy-eval", "kind: toy-evl"));
  assertProblem(
    list,
    /test\.yaml:13:5: stages\.eval\.kind: unknown stage kind "toy-evl" \(did you mean "toy-eval"\?\)/,
  );
  // A stage with a bad kind must not also make its dependants report a missing stage.
  assertEquals(list.length, 1);
});

Deno.test("parameters are checked against the kind's schema, with suggestions", () => {
  const unknown = problems(VALID.replace("{epochs: 3,", "{epoch: 3,"));
  assertProblem(
    unknown,
    /test\.yaml:11:14: stages\.train\.params\.epoch: unknown parameter "epoch" .*did you mean "epochs"/,
  );
  const wrongType = problems(VALID.replace("epochs: 3", "epochs: three"));
  assertProblem(
    wrongType,
    /test\.yaml:11:22: stages\.train\.params\.epochs: expected integer in \[1, inf\], got string/,
  );
  const fraction = problems(VALID.replace("epochs: 3", "epochs: 2.5"));
  assertProblem(fraction, /stages\.train\.params\.epochs: expected integer/);
  const enumValue = problems(VALID.replace('lrn: "${matrix.lrn}"', "lrn: onn"));
  assertProblem(
    enumValue,
    /stages\.train\.params\.lrn: expected one of "on", "off", got string "onn" \(did you mean "on"\?\)/,
  );
});

Deno.test("needs must name existing stages; cycles are printed", () => {
  const missing = problems(VALID.replace("needs: [train]", "needs: [trian]"));
  assertProblem(
    missing,
    /test\.yaml:14:13: stages\.eval\.needs\[0\]: needs unknown stage "trian" \(did you mean "train"\?\)/,
  );
  const cycle = problems(
    VALID.replace("    params: {epochs: 3,", "    needs: eval\n    params: {epochs: 3,"),
  );
  assertProblem(cycle, /stages\.train\.needs: dependency cycle: train -> eval -> train/);
});

Deno.test("matrix references are checked", () => {
  const axis = problems(VALID.replace("${matrix.lrn}", "${matrix.lnr}"));
  assertProblem(
    axis,
    /test\.yaml:11:30: stages\.train\.params\.lrn: unknown matrix axis "lnr" \(did you mean "lrn"\?\)/,
  );
  const notForeach = problems(VALID.replace("    foreach: matrix\n", ""));
  assertProblem(
    notForeach,
    /stages\.train\.params\.lrn: \$\{matrix\.lrn\} is only allowed in stages with `foreach: matrix`/,
  );
  const foreach = problems(VALID.replace("foreach: matrix", "foreach: matrx"));
  assertProblem(
    foreach,
    /stages\.train\.foreach: the only supported value is "matrix" \(did you mean "matrix"\?\)/,
  );
});

Deno.test("presets: keys must be stage.param with a value of the right type", () => {
  const list = problems(
    VALID.replace("{train.epochs: 1}", "{train.epohcs: 1, evl.crops: 2, train.lr: fast}"),
  );
  assertProblem(
    list,
    /test\.yaml:6:11: presets\.smoke\.train\.epohcs: stage "train" .* has no parameter "epohcs" \(did you mean "epochs"\?\)/,
  );
  assertProblem(list, /presets\.smoke\.evl\.crops: unknown stage "evl" \(did you mean "eval"\?\)/);
  assertProblem(list, /presets\.smoke\.train\.lr: expected number, got string "fast"/);
});

Deno.test("YAML syntax errors, duplicate keys and unknown claims are reported with positions", () => {
  assertProblem(problems("title: [unclosed\nstages: {}\n"), /^pipelines\/test\.yaml:\d+:\d+: /);
  assertProblem(
    problems(VALID.replace("claims: [lrn]", "claims: [lrn]\ntitle: again")),
    /test\.yaml:3:1: .*unique/i,
  );
  assertProblem(
    problems(VALID.replace("claims: [lrn]", "claims: [lrm]")),
    /claims\[0\]: unknown paper claim "lrm" \(did you mean "lrn"\?\)/,
  );
  assertProblem(problems(VALID.replace("title: Test\n", "")), /test\.yaml:1:1: missing required key "title"/);
});

Deno.test("planning rejects an unknown preset, bad --set keys and missing required params", () => {
  const definition = parsePipeline("pipelines/test.yaml", VALID, registry);
  const plan = (preset: string, sets: string[] = []) => {
    const error = thrown(() =>
      planPipeline(definition, registry, { preset, sets: sets.map(parseSetArgument) })
    );
    assert(error instanceof PipelineValidationError);
    return error.message;
  };
  assertMatch(
    plan("smok"),
    /--preset smok: preset: pipeline pipelines\/test\.yaml has no preset "smok" \(did you mean "smoke"\?\)/,
  );
  assertMatch(
    plan("cpu", ["train.epoch=3"]),
    /--set train\.epoch=3: train\.epoch: .*no parameter "epoch" \(did you mean "epochs"\?\)/,
  );
  assertMatch(
    plan("cpu", ["trian.epochs=3"]),
    /--set trian\.epochs=3: .*unknown stage "trian" \(did you mean "train"\?\)/,
  );
  assertMatch(plan("cpu", ["train.epochs=many"]), /--set train\.epochs=many: .*expected integer/);
  assertMatch(plan("cpu", ["epochs=3"]), /override keys have the form <stage>\.<param>/);
  assertThrows(() => parseSetArgument("novalue"), PipelineValidationError);

  const noEpochs = parsePipeline("pipelines/test.yaml", VALID.replace("epochs: 3, ", ""), registry);
  const error = thrown(() => planPipeline(noEpochs, registry, { preset: "cpu" }));
  assertMatch(
    String(error),
    /test\.yaml:11:5: stages\.train\.params: stage kind "toy-train" requires parameter "epochs"/,
  );
  // ...but a preset that supplies it makes the pipeline valid.
  assertEquals(planPipeline(noEpochs, registry, { preset: "smoke" }).instances[0].params.epochs, 1);
});

Deno.test("edit distance counts a swap as one edit", () => {
  assertEquals(editDistance("epohcs", "epochs"), 1);
  assertEquals(editDistance("", "abc"), 3);
});

Deno.test("budget and design are optional texts, checked like the other text keys", () => {
  const definition = parsePipeline(
    "pipelines/test.yaml",
    `budget: two trainings of 2 epochs\ndesign: fixed from the paper\n${VALID}`,
    registry,
  );
  assertEquals([definition.budget, definition.design], ["two trainings of 2 epochs", "fixed from the paper"]);
  assertEquals(parsePipeline("pipelines/test.yaml", VALID, registry).budget, undefined);
  assertProblem(
    problems(`budget: 3\n${VALID}`),
    /^pipelines\/test\.yaml:1:9: budget: expected a string, got 3/,
  );
  assertProblem(problems(`design: [a]\n${VALID}`), /test\.yaml:1:9: design: expected a string/);
});
