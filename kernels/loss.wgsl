// Softmax cross-entropy over a batch of logits [N][ld] (classes < ld are real, the rest padding).
// Writes dlogits = (softmax - onehot) / N (zeros in padding) and per-sample stats [N][4]: loss, top-1 correct,
// top-5 correct, and the probability of the label. A sample is top-k correct when fewer than k classes have a
// strictly greater logit than its label.

struct Params { N: u32, classes: u32, ld: u32, pad0: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(64)
fn softmax_xent(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= p.N) { return; }
  let row = n * p.ld;
  let label = labels[n];
  var mx = -3.4e38;
  for (var c = 0u; c < p.classes; c++) { mx = max(mx, logits[row + c]); }
  var sum = 0.0;
  for (var c = 0u; c < p.classes; c++) { sum += exp(logits[row + c] - mx); }
  let zl = logits[row + label];
  var greater = 0u;
  for (var c = 0u; c < p.classes; c++) {
    let z = logits[row + c];
    if (z > zl) { greater++; }
    let prob = exp(z - mx) / sum;
    dlogits[row + c] = (prob - select(0.0, 1.0, c == label)) / f32(p.N);
  }
  for (var c = p.classes; c < p.ld; c++) { dlogits[row + c] = 0.0; }
  stats[n * 4u] = log(sum) + mx - zl;
  stats[n * 4u + 1u] = select(0.0, 1.0, greater < 1u);
  stats[n * 4u + 2u] = select(0.0, 1.0, greater < 5u);
  stats[n * 4u + 3u] = exp(zl - mx) / sum;
}

@group(0) @binding(1) var<storage, read> inLogits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;

// Inference: probs [N][classes] (dense) from logits [N][ld].
@compute @workgroup_size(64)
fn softmax(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= p.N) { return; }
  let row = n * p.ld;
  var mx = -3.4e38;
  for (var c = 0u; c < p.classes; c++) { mx = max(mx, inLogits[row + c]); }
  var sum = 0.0;
  for (var c = 0u; c < p.classes; c++) { sum += exp(inLogits[row + c] - mx); }
  for (var c = 0u; c < p.classes; c++) { probs[n * p.classes + c] = exp(inLogits[row + c] - mx) / sum; }
}
