// Runs a program to completion for a test and hands back its exit code and decoded output, so that tests
// which drive the real CLIs read as what they check.

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout then stderr, for matching and for assertion messages. */
  text: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/** Runs `program` with `args`, stdout and stderr piped. */
export async function run(program: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const out = await new Deno.Command(program, { args, ...options, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const stdout = decode(out.stdout);
  const stderr = decode(out.stderr);
  return { code: out.code, stdout, stderr, text: stdout + stderr };
}

/** Runs this Deno with `args` (`["run", "-A", script, ...]`, `["doc", ...]`). */
export function runDeno(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(Deno.execPath(), args, options);
}
