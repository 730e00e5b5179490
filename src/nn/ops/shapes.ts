// Output sizes, shared by the GPU ops and the model builder; the same rule as src/reference/shapes.ts.
export { convOutSize } from "../../reference/shapes.ts";

export const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;
