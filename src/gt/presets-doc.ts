import {
  CELL_MASK_DEFAULTS,
  CLAHE_DEFAULTS,
  GT_BORDER_CONTEXT_VOXELS,
  ORGANELLE_PRESETS,
  type OrganellePreset,
  type TypicalSizes,
} from "./presets.ts";

/*
 * docs/presets.md is rendered from the preset table, so the page cannot drift from the numbers the
 * verbs use (src/gt/presets.test.ts compares them). Regenerate with
 *   npx tsx scripts/render-presets-doc.ts > docs/presets.md
 */

const n = (v: number) => v.toLocaleString("en-US");
const steps = (v: number) => (v === 0 ? "—" : `${n(v)}`);

function sizes(s: TypicalSizes): string {
  const parts: string[] = [];
  if (s.minVolumeNm3 !== undefined) parts.push(`min volume ${n(s.minVolumeNm3)} nm³`);
  if (s.diameterNm) {
    const d = s.diameterNm;
    const range = d.min !== undefined && d.max !== undefined ? `${d.min}–${d.max} nm` : "";
    const median = d.median !== undefined ? `median ${d.median} nm` : "";
    parts.push(`diameter ${[range, median].filter(Boolean).join(", ")}`);
  }
  if (s.radiusNm) {
    parts.push(
      s.radiusNm.inner !== undefined
        ? `radius ${s.radiusNm.inner} nm inner, ${s.radiusNm.outer} nm outer`
        : `radius ${s.radiusNm.outer} nm`,
    );
  }
  if (s.endocyticWithinNm !== undefined) parts.push(`endocytic within ${s.endocyticWithinNm} nm of the PM`);
  if (s.caveolaNm) parts.push(`caveolae ~${s.caveolaNm.depth} nm deep, ~${s.caveolaNm.width} nm wide`);
  return parts.length ? parts.join("; ") : "—";
}

function row(p: OrganellePreset): string {
  const ex = p.exclusion ? `${p.exclusion.dilate} / ${p.exclusion.erode}` : "—";
  return `| \`${p.name}\` | ${p.title} | ${steps(p.cleanup.removeObjectsSmallerThan)} | ${steps(p.cleanup.fillHolesSmallerThan)} | ${steps(p.biasDilation)} | ${ex} | ${sizes(p.sizes)} |`;
}

export function renderPresetsMarkdown(): string {
  const m = CELL_MASK_DEFAULTS;
  const c = CLAHE_DEFAULTS;
  const lines = [
    "# Organelle presets",
    "",
    "<!-- Rendered from src/gt/presets.ts by `npx tsx scripts/render-presets-doc.ts > docs/presets.md`; do not edit by hand. -->",
    "",
    "One table holds every per-organelle number the verbs use (`organelle gt clean | bias | exclusion`, refinement",
    "later). Numbers come from ../shared/docs/SPEC.md (distilled from the ASEM and COSEM papers and ASEM's code).",
    'Voxel counts are ASEM\'s, at its 5 nm voxels, and are applied as voxel counts at any voxel size. "n voxels" of',
    "dilation or erosion means n steps of the 6-neighbour cross (scipy `binary_dilation(..., iterations=n)`, ASEM's",
    "scripts), i.e. the city-block ball of radius n. A dash means no step (or, for the exclusion zone, that the",
    "sources give none: pass `--dilate` and `--erode`). Every verb takes options that override these numbers.",
    "",
    "| name | organelle | remove objects < (voxels) | fill holes < (voxels) | bias dilation (voxels) | exclusion dilate / erode (voxels) | typical sizes |",
    "| --- | --- | ---: | ---: | ---: | :---: | --- |",
    ...ORGANELLE_PRESETS.map(row),
    "",
    "## Sources",
    "",
    ...ORGANELLE_PRESETS.flatMap((p) => {
      const s = p.sources;
      const out = [
        `- \`${p.name}\`: clean-up: ${s.cleanup}; bias: ${s.bias}; exclusion: ${s.exclusion}; sizes: ${s.sizes}.`,
      ];
      if (p.notes) out.push(`  ${p.notes}`);
      return out;
    }),
    "",
    "Names are case-insensitive; common spellings are accepted too (`mitochondria`, `endoplasmic_reticulum`,",
    "`coated_pit`, `np`, `pm`, ...). An unknown name is an error that lists the known ones.",
    "",
    "## Preprocessing defaults",
    "",
    `- Cell mask (\`organelle mask\`; ${m.source}): keep ${m.windowLow} < v < ${m.windowHigh}; binary opening with`,
    `  ball(${m.openingRadiusVoxels}) then closing with ball(${m.closingRadiusVoxels}) (radii in voxels, skimage semantics);`,
    `  fill background components < ${n(m.fillHolesSmallerThan)} voxels (skimage \`remove_small_holes\`); remove`,
    `  objects < ${n(m.removeObjectsSmallerThan)} voxels; ${m.connectivity}-connectivity. SPEC: tuned per dataset.`,
    `- 3D CLAHE (\`organelle clahe\`; ${c.source}): kernel ${c.kernelVoxels} voxels, clip limit ${c.clipLimit},`,
    `  ${c.nbins} bins (skimage \`equalize_adapthist\` semantics).`,
    `- Ground truth should lie at least ${GT_BORDER_CONTEXT_VOXELS} voxels from the volume border (the network's context);`,
    "  `organelle gt add-roi` warns when a ROI comes closer.",
    "",
  ];
  return lines.join("\n");
}
