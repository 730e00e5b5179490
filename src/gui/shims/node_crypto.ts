// Browser stand-in for node:crypto, which src/data/util.ts imports for streaming file hashes: the page never
// hashes files, and WebCrypto covers sha256Hex.

export function createHash(_algorithm: string): never {
  throw new Error("node:crypto createHash is not available in the browser");
}
