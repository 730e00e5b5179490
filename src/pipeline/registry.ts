import type { StageKind } from "./types.ts";

/** Stage kinds by name. The CLI builds one from the kinds it is given; tests build their own. */
export class StageKindRegistry {
  readonly #kinds = new Map<string, StageKind>();

  constructor(kinds: Iterable<StageKind> = []) {
    for (const kind of kinds) this.register(kind);
  }

  register(kind: StageKind): this {
    if (!/^[a-z][a-z0-9-]*$/.test(kind.name)) {
      throw new Error(`stage kind name "${kind.name}" must be lower-case letters, digits and dashes`);
    }
    if (this.#kinds.has(kind.name)) throw new Error(`stage kind "${kind.name}" is registered twice`);
    for (const [key, spec] of Object.entries(kind.params)) {
      if (spec.type === "enum" && !spec.values?.length) {
        throw new Error(`stage kind "${kind.name}": enum parameter "${key}" declares no values`);
      }
    }
    this.#kinds.set(kind.name, kind);
    return this;
  }

  get(name: string): StageKind | undefined {
    return this.#kinds.get(name);
  }

  has(name: string): boolean {
    return this.#kinds.has(name);
  }

  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }

  all(): StageKind[] {
    return this.names().map((name) => this.#kinds.get(name)!);
  }
}

export function toRegistry(kinds: StageKindRegistry | Iterable<StageKind>): StageKindRegistry {
  return kinds instanceof StageKindRegistry ? kinds : new StageKindRegistry(kinds);
}
