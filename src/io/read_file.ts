// Reads a whole file into one buffer of its size. Deno.readFile grows its buffer as it reads, which for the
// hundreds of megabytes of a full-size AlexNet costs seconds more than reading into a buffer sized once.

/** The file's bytes; a file that changes size while read is read again with Deno.readFile. */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  // try/finally rather than `using`: the GUI's browser bundle includes this module (through checkpoint.ts).
  const file = await Deno.open(path);
  let complete: boolean, bytes: Uint8Array;
  try {
    bytes = new Uint8Array((await file.stat()).size);
    let got = 0;
    while (got < bytes.length) {
      const n = await file.read(bytes.subarray(got));
      if (n === null) break;
      got += n;
    }
    complete = got === bytes.length && (await file.read(new Uint8Array(1))) === null;
  } finally {
    file.close();
  }
  return complete ? bytes : await Deno.readFile(path);
}
