// Prints docs/presets.md from the preset table: npx tsx scripts/render-presets-doc.ts > docs/presets.md
import { renderPresetsMarkdown } from "../src/gt/presets-doc.ts";

process.stdout.write(renderPresetsMarkdown());
