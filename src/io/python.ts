// PyTorch through a Python interpreter: Debian's python3-torch for /usr/bin/python3 by default (ALEXNET_PYTHON
// names another). Writing torch.save() files (`deno task model export --out X.pt`) and the PyTorch tests run
// scripts from tools/ with it; everything else works without Python (reading .pt/.pth: src/io/pth.ts).

/** The interpreter whose `import torch` the .pt export and the PyTorch tests use. */
export function torchPython(): string {
  return Deno.env.get("ALEXNET_PYTHON") || "/usr/bin/python3";
}

export const TORCH_INSTALL_HINT = "apt-get install -y python3-torch (Debian's PyTorch for /usr/bin/python3)";

/** The project's tools/ folder (Python scripts run as subprocesses). */
export const TOOLS_DIR = decodeURIComponent(new URL("../../tools", import.meta.url).pathname);

const checked = new Map<string, string | null>();

/** null when `python` runs and imports torch; otherwise a sentence saying what is wrong. Cached per path. */
export function torchUnavailable(python = torchPython()): string | null {
  if (checked.has(python)) return checked.get(python)!;
  let why: string | null;
  try {
    const out = new Deno.Command(python, {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    why = out.success
      ? null
      : `${python} cannot import torch (${
        new TextDecoder().decode(out.stderr).trim().split("\n").pop() || `exit status ${out.code}`
      })`;
  } catch (e) {
    why = `${python} cannot be run (${(e as Error).message})`;
  }
  checked.set(python, why);
  return why;
}

/**
 * Runs tools/<script> with the torch interpreter and returns its stdout. `what` says what for, in the error
 * raised when PyTorch is unavailable; a failing script raises its stderr's last lines.
 */
export async function runTorchTool(script: string, args: string[], what: string): Promise<string> {
  const python = torchPython();
  const why = torchUnavailable(python);
  if (why) throw new Error(`${what} needs PyTorch, but ${why}: ${TORCH_INSTALL_HINT}, or set ALEXNET_PYTHON`);
  const out = await new Deno.Command(python, {
    args: [`${TOOLS_DIR}/${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n");
    // The tools print one "error: ..." line for expected failures; otherwise show the traceback's end.
    const line = err.findLast((l) => l.startsWith("error: "));
    throw new Error(
      line ? line.slice(7) : `${script} failed (exit ${out.code}): ${err.slice(-5).join("\n")}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}
