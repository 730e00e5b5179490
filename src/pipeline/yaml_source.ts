import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node } from "yaml";
import type { PipelineIssue } from "./errors.ts";
import { keyPath } from "./errors.ts";

/**
 * A parsed YAML file that still knows where every key and value came from, so a problem found in the plain
 * JavaScript value can be reported at file:line:col.
 */
export class YamlSource {
  readonly lineCounter = new LineCounter();
  readonly document: Document;

  constructor(readonly file: string, readonly text: string) {
    // YAML 1.2 core schema: `on`/`off`/`yes`/`no` stay strings, which is what matrix values like `lrn: [on, off]`
    // mean in a pipeline file.
    this.document = parseDocument(text, { lineCounter: this.lineCounter, version: "1.2", uniqueKeys: true });
  }

  /** Syntax errors (and duplicate keys) reported by the YAML parser. */
  syntaxIssues(): PipelineIssue[] {
    return this.document.errors.map((error) => {
      const pos = error.linePos?.[0];
      return {
        where: pos ? `${this.file}:${pos.line}:${pos.col}` : this.file,
        key: "",
        message: error.message.split("\n")[0],
      };
    });
  }

  toJS(): unknown {
    return this.document.toJS();
  }

  /**
   * `file:line:col` of the key (or value) at `path`. A path that does not fully exist resolves to the deepest
   * node that does, which is where a missing key belongs.
   */
  where(path: readonly (string | number)[], part: "key" | "value" = "key"): string {
    let node: unknown = this.document.contents;
    let offset = node && (node as Node).range ? (node as Node).range![0] : 0;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((item) =>
          isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment)
        );
        if (!pair) break;
        const keyNode = pair.key as Node;
        if (last && part === "key" && keyNode.range) {
          offset = keyNode.range[0];
          break;
        }
        node = pair.value;
        const valueNode = pair.value as Node | null;
        offset = valueNode?.range ? valueNode.range[0] : keyNode.range?.[0] ?? offset;
      } else if (isSeq(node) && typeof segment === "number" && segment < node.items.length) {
        node = node.items[segment];
        const item = node as Node;
        if (item?.range) offset = item.range[0];
      } else {
        break;
      }
    }
    const pos = this.lineCounter.linePos(offset);
    return `${this.file}:${pos.line}:${pos.col}`;
  }

  issue(path: readonly (string | number)[], message: string, part: "key" | "value" = "key"): PipelineIssue {
    return { where: this.where(path, part), key: keyPath(path), message };
  }
}
