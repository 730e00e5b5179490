// The run log's "params changed: ..." line: short values as they are, long structured ones from their first
// difference, cut short.
import { assertEquals } from "@std/assert";
import { describeParamChanges, firstDifference } from "../src/pipeline/param_changes.ts";

Deno.test("param changes: short values are shown whole, at most three, with the count beyond", () => {
  assertEquals(
    describeParamChanges({ epochs: 12 }, { epochs: 20, init_std: { conv1: 0.01 } }),
    'epochs 12 -> 20, init_std unset -> {"conv1":0.01}',
  );
  assertEquals(
    describeParamChanges({ a: 1, b: 1, c: 1, d: 1 }, { a: 2, b: 2, c: 2, d: 2 }),
    "a 1 -> 2, b 1 -> 2, c 1 -> 2, ... (4 changes)",
  );
  assertEquals(describeParamChanges({ a: [1, 2] }, { a: [1, 2] }), "");
});

Deno.test("param changes: a long list names its first differing item and its length change", () => {
  const caption = "the same net's conv1 kernels at initialisation, drawn the same way as the trained ones";
  const before = {
    sections: [{ heading: "Figure 3" }, { figure: { from: "kernels.files.figure" } }, { text: caption }],
  };
  const after = {
    sections: [
      { heading: "Figure 3" },
      { figure: { from: "kernels.files.figure" } },
      { figure: { caption, from: "kernels.files.figure_at_init" } },
      { text: caption },
    ],
  };
  const line = describeParamChanges(before, after);
  assertEquals(
    line,
    'sections[2].figure unset -> {"caption":"the same net\'s conv1 kernels at initialisation,… (sections: 3 -> 4 items)',
  );
});

Deno.test("param changes: the first difference walks keys in order and indexes past the shorter list", () => {
  assertEquals(firstDifference({ a: { x: 1, y: [1, 2] } }, { a: { x: 1, y: [1, 2, 3] } }, "p"), {
    path: "p.a.y[2]",
    a: undefined,
    b: 3,
  });
  assertEquals(firstDifference([1, "a"], [1, 2], "q"), { path: "q[1]", a: "a", b: 2 });
  assertEquals(firstDifference({ k: 1 }, { k: 1 }, "r"), undefined);
});
