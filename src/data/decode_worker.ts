/**
 * Web Worker that decodes images for image_folder.ts, so a dataset's first load uses every core.
 * Message in: {id, path, size}; out: {id, sha256, pixels} (pixels transferred) or {id, sha256, error}.
 */
import { prepareImageFile } from "./image_decode.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent<{ id: number; path: string; size: number }>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = async (e) => {
  const { id, path, size } = e.data;
  const r = await prepareImageFile(path, size);
  scope.postMessage({ id, ...r }, r.pixels ? [r.pixels.buffer as ArrayBuffer] : []);
};
