// A real HTTP/1.1 server on 127.0.0.1 serving the files of one folder, written on raw TCP so that a test can cut a
// response halfway (a dropped connection, which Deno.serve would not produce) and see the Range headers asked.

/** What the server was asked, in order. */
export interface MirrorRequest {
  path: string;
  range: string | null;
  status: number;
}

export interface Mirror {
  url: string;
  requests: MirrorRequest[];
  close(): Promise<void>;
}

export interface MirrorOptions {
  /** The first response for this file name sends only half its body, then closes the connection. */
  cutOnce?: string;
}

async function readHead(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(8192);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Serves `dir` at http://127.0.0.1:<port>/<file>: 200, 206 for `Range: bytes=N-`, 404 for anything else. */
export function serveMirror(dir: string, opts: MirrorOptions = {}): Mirror {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: MirrorRequest[] = [];
  const cut = new Set(opts.cutOnce ? [opts.cutOnce] : []);
  const open = new Set<Promise<void>>();
  const handle = async (conn: Deno.Conn) => {
    try {
      const head = await readHead(conn);
      const [line, ...headers] = head.split("\r\n");
      const path = decodeURIComponent(line.split(" ")[1] ?? "/").replace(/^\/+/, "");
      const range = headers.find((h) => /^range:/i.test(h))?.split(":")[1].trim() ?? null;
      let body: Uint8Array | null = null;
      if (path && !path.includes("/") && !path.includes("..")) {
        body = await Deno.readFile(`${dir}/${path}`).catch(() => null);
      }
      const enc = new TextEncoder();
      if (!body) {
        requests.push({ path, range, status: 404 });
        await writeAll(
          conn,
          enc.encode("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
        );
        return;
      }
      const from = range ? Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0) : 0;
      const status = from > 0 ? 206 : 200;
      requests.push({ path, range, status });
      const part = body.subarray(from);
      const extra = status === 206
        ? `content-range: bytes ${from}-${body.length - 1}/${body.length}\r\n`
        : "";
      await writeAll(
        conn,
        enc.encode(
          `HTTP/1.1 ${status} ${
            status === 206 ? "Partial Content" : "OK"
          }\r\ncontent-length: ${part.length}\r\n` +
            `${extra}accept-ranges: bytes\r\nconnection: close\r\n\r\n`,
        ),
      );
      if (cut.delete(path)) {
        await writeAll(conn, part.subarray(0, part.length >> 1));
        return; // closed with half the promised bytes sent
      }
      await writeAll(conn, part);
    } catch {
      // The client went away: nothing to answer.
    } finally {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const loop = (async () => {
    for await (const conn of listener) {
      const p = handle(conn);
      open.add(p);
      p.finally(() => open.delete(p));
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    async close() {
      listener.close();
      await loop;
      await Promise.all(open);
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released), for "connection refused". */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
