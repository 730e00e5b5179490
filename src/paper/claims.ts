/**
 * The paper's claims (docs: /work/shared/paper/alexnet-facts.md, "Claims") as data, so reports can put the
 * paper's number next to the reproduced one and the index can list which claims have been addressed.
 *
 * Errors are in percent. A `difference` is "with the paper's choice minus without it" in percentage points, a
 * `ratio` is "baseline over the paper's choice"; `direction` says which way the paper's effect goes, so a report
 * can test whether a reproduction at a smaller scale shows it (src/experiments/claim_effect.ts).
 */

export type FigureKind = "absolute" | "difference" | "ratio";
export type EffectDirection = "decrease" | "increase";

export interface PaperFigure {
  /** Short name a report row selects the figure by, e.g. "top-1". Unique within a claim. */
  metric: string;
  /** The paper's number; null for a qualitative claim the reproduction measures without a number to match. */
  value: number | null;
  unit: "%" | "x";
  kind: FigureKind;
  /** Which way the paper's effect goes (differences: the sign; ratios: above or below 1). */
  direction?: EffectDirection;
  /** What exactly the number measures. */
  measures: string;
  /** True when the number is computed from the paper's numbers rather than printed in it. */
  derived?: boolean;
  /** Why the reproduction's number cannot be tested against "no effect" (it then gets no verdict). */
  untestable?: string;
}

export interface PaperClaim {
  id: string;
  section: string;
  claim: string;
  /** The paper's figure as the facts sheet words it. */
  paperFigure: string;
  figures: PaperFigure[];
  /** The direction of the effect in words (what a reproduction at any scale should at least show). */
  expectedDirection: string;
  /** What later work found, for context in reports. */
  context?: string;
}

const pct = (
  metric: string,
  value: number | null,
  kind: FigureKind,
  measures: string,
  extra: Partial<PaperFigure> = {},
): PaperFigure => ({ metric, value, unit: "%", kind, measures, ...extra });

export const PAPER_CLAIMS: readonly PaperClaim[] = [
  {
    id: "table1",
    section: "Table 1",
    claim: "ILSVRC-2010 test, 1 CNN, 10-patch averaging",
    paperFigure: "top-1 37.5%, top-5 17.0% (39.0% / 18.3% without averaging)",
    figures: [
      pct("top-1", 37.5, "absolute", "top-1 test error, softmax averaged over 10 patches"),
      pct("top-5", 17.0, "absolute", "top-5 test error, softmax averaged over 10 patches"),
      pct("top-1 single patch", 39.0, "absolute", "top-1 test error without 10-patch averaging"),
      pct("top-5 single patch", 18.3, "absolute", "top-5 test error without 10-patch averaging"),
      pct("top-1 averaging effect", -1.5, "difference", "10-patch minus single-patch top-1 error", {
        direction: "decrease",
        derived: true,
      }),
      pct("top-5 averaging effect", -1.3, "difference", "10-patch minus single-patch top-5 error", {
        direction: "decrease",
        derived: true,
      }),
    ],
    expectedDirection: "averaging 10 patches lowers error",
  },
  {
    id: "table1-peers",
    section: "Table 1",
    claim: "sparse coding; SIFT + Fisher vectors",
    paperFigure: "47.1/28.2; 45.7/25.7",
    figures: [
      pct("sparse coding top-1", 47.1, "absolute", "top-1 test error of sparse coding"),
      pct("sparse coding top-5", 28.2, "absolute", "top-5 test error of sparse coding"),
      pct("SIFT+FV top-1", 45.7, "absolute", "top-1 test error of SIFT + Fisher vectors"),
      pct("SIFT+FV top-5", 25.7, "absolute", "top-5 test error of SIFT + Fisher vectors"),
    ],
    expectedDirection: "the CNN beats both by about 8 points top-1",
  },
  {
    id: "table2",
    section: "Table 2",
    claim: "ILSVRC-2012 val, 1 CNN / 5 CNNs / 1 CNN* / 7 CNNs*",
    paperFigure: "top-1 40.7/38.1/39.0/36.7, top-5 18.2/16.4/16.6/15.4",
    figures: [
      pct("1 CNN top-1", 40.7, "absolute", "top-1 val error, one CNN"),
      pct("5 CNNs top-1", 38.1, "absolute", "top-1 val error, average of five CNNs"),
      pct("1 CNN* top-1", 39.0, "absolute", "top-1 val error, one CNN pre-trained on ImageNet Fall 2011"),
      pct("7 CNNs* top-1", 36.7, "absolute", "top-1 val error, seven CNNs, two pre-trained"),
      pct("1 CNN top-5", 18.2, "absolute", "top-5 val error, one CNN"),
      pct("5 CNNs top-5", 16.4, "absolute", "top-5 val error, average of five CNNs"),
      pct("1 CNN* top-5", 16.6, "absolute", "top-5 val error, one pre-trained CNN"),
      pct("7 CNNs* top-5", 15.4, "absolute", "top-5 val error, seven CNNs"),
      pct("ensemble effect top-1", -2.6, "difference", "5 CNNs minus 1 CNN, top-1", {
        direction: "decrease",
        derived: true,
      }),
    ],
    expectedDirection: "averaging several CNNs lowers error",
  },
  {
    id: "depth",
    section: "4",
    claim: "removing any middle conv layer",
    paperFigure: "about +2% top-1 error",
    figures: [
      pct("top-1", 2, "difference", "top-1 error without a middle conv layer minus with all layers", {
        direction: "increase",
      }),
    ],
    expectedDirection: "removing a layer raises error",
  },
  {
    id: "relu",
    section: "3.1, Fig. 1",
    claim: "four-layer CNN on CIFAR-10, no regularisation, lr tuned per net",
    paperFigure: "ReLU reaches 25% TRAINING error 6x sooner (iterations) than tanh",
    figures: [{
      metric: "speed-up",
      value: 6,
      unit: "x",
      kind: "ratio",
      direction: "increase",
      measures: "iterations to 25% training error: tanh over ReLU",
    }],
    expectedDirection: "ReLU reaches 25% training error in fewer iterations than tanh",
  },
  {
    id: "two-gpu",
    section: "3.2",
    claim: "two-tower net vs one-tower net with half the kernels per conv layer",
    paperFigure: "-1.7% top-1, -1.2% top-5",
    figures: [
      pct("top-1", -1.7, "difference", "two-tower minus one-tower top-1 error", { direction: "decrease" }),
      pct("top-5", -1.2, "difference", "two-tower minus one-tower top-5 error", { direction: "decrease" }),
    ],
    expectedDirection: "the two-tower net has lower error",
  },
  {
    id: "lrn",
    section: "3.3",
    claim: "local response normalisation on ImageNet",
    paperFigure: "-1.4% top-1, -1.2% top-5",
    figures: [
      pct("top-1", -1.4, "difference", "with LRN minus without, top-1 error", { direction: "decrease" }),
      pct("top-5", -1.2, "difference", "with LRN minus without, top-5 error", { direction: "decrease" }),
    ],
    expectedDirection: "LRN lowers error",
    context:
      "VGG (2014, Table 3): A-LRN 29.7/10.5 vs A 29.6/10.4, LRN did not help; Mishkin et al. (CaffeNet at " +
      "128px): LRN 0.470 vs no LRN 0.471 accuracy.",
  },
  {
    id: "lrn-cifar",
    section: "3.3",
    claim: "four-layer CNN on CIFAR-10",
    paperFigure: "13% test error without normalisation, 11% with",
    figures: [
      pct("without LRN", 13, "absolute", "test error of the cuda-convnet 13pct net"),
      pct("with LRN", 11, "absolute", "test error of the cuda-convnet 11pct net"),
      pct("effect", -2, "difference", "with LRN minus without, test error", {
        direction: "decrease",
        derived: true,
      }),
    ],
    expectedDirection: "LRN lowers error",
    context:
      "The 11pct net also differs in width, weight decay and schedule, so the paper's 2 points are not a pure " +
      "LRN ablation; a clean ablation toggles LRN alone.",
  },
  {
    id: "overlap",
    section: "3.4",
    claim: "max pool z=3, s=2 vs z=2, s=2 (same output size)",
    paperFigure: "-0.4% top-1, -0.3% top-5; harder to overfit",
    figures: [
      pct("top-1", -0.4, "difference", "overlapping minus non-overlapping pooling, top-1 error", {
        direction: "decrease",
      }),
      pct("top-5", -0.3, "difference", "overlapping minus non-overlapping pooling, top-5 error", {
        direction: "decrease",
      }),
    ],
    expectedDirection: "overlapping pooling lowers error and overfits less",
    context: "Mishkin et al. (CaffeNet at 128px): max pool 2/2 0.484 vs 3/2 0.471 accuracy.",
  },
  {
    id: "pca",
    section: "4.1",
    claim: "PCA colour augmentation",
    paperFigure: "more than 1% lower top-1",
    figures: [
      pct(
        "top-1",
        -1,
        "difference",
        "with PCA colour noise minus without, top-1 error (paper: more than 1 point)",
        {
          direction: "decrease",
        },
      ),
    ],
    expectedDirection: "PCA colour noise lowers error",
  },
  {
    id: "dropout",
    section: "4.2",
    claim: "p=0.5 in fc6, fc7",
    paperFigure: "without it: heavy overfitting; with it about 2x iterations to converge",
    figures: [
      {
        metric: "iterations to converge",
        value: 2,
        unit: "x",
        kind: "ratio",
        direction: "increase",
        measures: "iterations to converge with dropout over without",
      },
      pct(
        "overfitting gap",
        null,
        "difference",
        "test minus training error (both without dropout at test time, centre crop), with dropout minus without " +
          '(points); the paper gives no number, only "substantial overfitting" without it',
        { direction: "decrease" },
      ),
    ],
    expectedDirection: "dropout narrows the train/test gap and slows convergence",
  },
  {
    id: "fig3",
    section: "Fig. 3",
    claim: "96 conv1 kernels 11x11x3",
    paperFigure: "tower 1 kernels mostly colour-agnostic, tower 2 colour-specific",
    figures: [{
      metric: "colour contrast",
      value: null,
      unit: "x",
      kind: "ratio",
      direction: "increase",
      measures:
        "mean colour index of the more colourful tower's conv1 kernels over the less colourful one's, " +
        "trained over the same at initialisation (the contrast is at least 1 by construction, so the " +
        "initial weights give its no-effect level)",
    }, {
      metric: "orientation",
      value: null,
      unit: "x",
      kind: "ratio",
      direction: "increase",
      measures:
        "mean share of each conv1 kernel's spectral energy above one cycle in its strongest of 8 orientation " +
        "bands, trained over the same at initialisation (oriented edges and gratings raise it)",
    }],
    expectedDirection: "qualitative",
  },
  {
    id: "fig4",
    section: "Fig. 4",
    claim: "top-5 on test images; 6 nearest training images by L2 on the 4096-d fc7 output",
    paperFigure: "qualitative",
    figures: [
      pct(
        "same class, features minus pixels",
        null,
        "difference",
        "share of the nearest training images that have the test image's class, by distance in the last hidden " +
          "layer minus by distance in raw pixels (points)",
        { direction: "increase" },
      ),
    ],
    expectedDirection: "qualitative",
  },
];

export const PAPER_CLAIM_IDS: readonly string[] = PAPER_CLAIMS.map((claim) => claim.id);

export function findClaim(id: string): PaperClaim | undefined {
  return PAPER_CLAIMS.find((claim) => claim.id === id);
}
