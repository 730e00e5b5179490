/**
 * Output size of a convolution or pooling window along one axis: the one rule the model resolver, the GPU ops
 * and the CPU reference share.
 * floor: `floor((inp + 2*pad - k) / stride) + 1`; ceil: `ceil(...) + 1`, then dropping the last window when it
 * would start past the input plus the leading pad (Caffe / PyTorch rule), so every window overlaps the input.
 */
export function convOutSize(inp: number, k: number, stride: number, pad: number, ceil = false): number {
  if (stride < 1 || k < 1 || pad < 0) throw new Error(`bad window k=${k} stride=${stride} pad=${pad}`);
  const span = inp + 2 * pad - k;
  if (span < 0) throw new Error(`window ${k} does not fit input ${inp} with padding ${pad}`);
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceil && (out - 1) * stride >= inp + pad) out--;
  return out;
}
