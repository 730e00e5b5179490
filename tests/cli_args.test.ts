// The commands' strict command-line parser (src/util/args.ts): what it reads and what it refuses.
import { assertEquals, assertThrows } from "@std/assert";
import { parseCommandLine, UsageError } from "../src/util/args.ts";

const OPTIONS = {
  epochs: { type: "string" },
  lr: { type: "string" },
  resume: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const parse = (args: string[], positionals = false) => parseCommandLine(args, OPTIONS, positionals);
const refused = (args: string[], message: string, positionals = false) =>
  assertEquals(assertThrows(() => parse(args, positionals), UsageError).message, message);

Deno.test("parseCommandLine: values, switches, short flags and positionals", () => {
  assertEquals(parse([]), { values: {}, positionals: [] });
  assertEquals(parse(["--epochs", "007", "--lr=-0.5", "--resume", "-h"]), {
    values: { epochs: "007", lr: "-0.5", resume: true, help: true },
    positionals: [],
  });
  assertEquals(parse(["--epochs", "1", "--epochs", "2", "--lr", "-"]).values, { epochs: "2", lr: "-" });
  assertEquals(parse(["--epochs=a=b"]).values, { epochs: "a=b" });
  assertEquals(parse(["12", "--resume", "true", "--", "--lr"], true), {
    values: { resume: true },
    positionals: ["12", "true", "--lr"],
  });
});

Deno.test("parseCommandLine: unknown flags, stray arguments and missing or misplaced values are refused", () => {
  refused(["--epoch", "1"], "unknown option --epoch (did you mean --epochs?)");
  refused(["--no-resume"], "unknown option --no-resume (did you mean --resume?)");
  refused(["--no-resume=1"], "unknown option --no-resume (did you mean --resume?)");
  refused(["-hx"], "unknown option -x");
  refused(["--help", "--bogus"], "unknown option --bogus");
  refused(["x"], 'unexpected argument "x"');
  refused(["--", "x"], 'unexpected argument "x"');
  refused(["--resume", "false"], 'unexpected argument "false"');
  refused(["--resume=false"], "Option '--resume' does not take an argument");
  refused(["--help="], "Option '-h, --help' does not take an argument");
  refused(["--epochs"], "Option '--epochs <value>' argument missing");
  refused(
    ["--lr", "-0.1"],
    "Option '--lr' argument is ambiguous.\nDid you forget to specify the option argument for '--lr'?\n" +
      "To specify an option argument starting with a dash use '--lr=-XYZ'.",
  );
});
