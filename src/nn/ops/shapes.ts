// Padding helper shared by the GPU ops: GEMM operands are stored with rows a multiple of 4 wide (vec4 loads).
// Window output sizes come from src/math/window.ts, the rule the model resolver and the reference use too.

export const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;
