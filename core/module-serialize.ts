import { Document, parseDocument, Scalar, YAMLMap, YAMLSeq } from "yaml";
import type { DeploymentNode, ImageParameter, ModuleDoc } from "../protocol/modules.js";

const TO_STRING = { lineWidth: 0, indentSeq: true, flowCollectionPadding: true, doubleQuotedAsJSON: true } as const;
const TARGET_ORDER = ["pre-install", "packages", "post-install", "execute", "report", "onvmadd", "onvmremove"] as const;

/**
 * Writes a module as YAML in a stable, readable form: fixed key order, scripts as literal block scalars,
 * parameters one per line in flow style. `parseModuleYaml(serializeModuleYaml(doc))` deep-equals `doc`.
 */
export function serializeModuleYaml(doc: ModuleDoc): string {
  const root = new YAMLMap();
  root.set("kind", doc.kind);
  if (doc.description !== undefined) root.set("description", text(doc.description));

  if (doc.kind === "image") {
    if (doc.images !== undefined) {
      const images = new YAMLMap();
      images.flow = true;
      for (const [cloud, ref] of Object.entries(doc.images)) images.set(cloud, text(ref));
      root.set("images", images);
    }
    if (doc.parameters.length > 0) {
      const params = new YAMLSeq();
      for (const p of doc.parameters) params.items.push(parameterNode(p));
      root.set("parameters", params);
    }
    const targets = new YAMLMap();
    for (const name of TARGET_ORDER) {
      if (name === "packages") {
        const packages = doc.targets.packages;
        if (packages === undefined) continue;
        const seq = new YAMLSeq();
        seq.flow = true;
        seq.items.push(...packages.map((p) => text(p)));
        targets.set(name, seq);
      } else {
        const script = doc.targets[name];
        if (script !== undefined) targets.set(name, text(script, true));
      }
    }
    if (targets.items.length > 0) root.set("targets", targets);
  } else if (doc.kind === "deployment") {
    const nodes = new YAMLMap();
    for (const [name, node] of Object.entries(doc.nodes)) nodes.set(name, nodeNode(node));
    root.set("nodes", nodes);
  }

  const out = new Document();
  out.contents = root;
  return out.toString(TO_STRING);
}

/** A string scalar; multi-line text (and every script) as a literal block, or double-quoted when it cannot be one. */
function text(value: string, block = false): Scalar<string> {
  const s = new Scalar(value);
  if (block || value.includes("\n")) s.type = literalRoundTrips(value) ? Scalar.BLOCK_LITERAL : Scalar.QUOTE_DOUBLE;
  return s;
}

/** C0 controls except tab and newline, DEL, C1 controls, line/paragraph separators, BOM. */
function hasUnprintable(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return true;
    if (c === 0xfeff) return true;
  }
  return false;
}

/** Some texts (whitespace-only lines, control characters) don't survive a literal block: those get quoted. */
function literalRoundTrips(value: string): boolean {
  if (hasUnprintable(value)) return false;
  if (/(^|\n)[ \t]+(\n|$)/.test(value)) return false; // whitespace-only lines are read back as empty lines
  const s = new Scalar(value);
  s.type = Scalar.BLOCK_LITERAL;
  const probe = new Document();
  probe.contents = new YAMLMap();
  (probe.contents as YAMLMap).set("v", s);
  (probe.contents as YAMLMap).set("w", "x");
  try {
    const back = parseDocument(probe.toString(TO_STRING)).toJS() as { v?: unknown };
    return back?.v === value;
  } catch {
    return false;
  }
}

function parameterNode(p: ImageParameter): YAMLMap {
  const m = new YAMLMap();
  // one line per parameter; a flow map cannot hold block scalars, so multi-line values make it a block map
  m.flow = !(p.default?.includes("\n") || p.description?.includes("\n"));
  m.set("name", text(p.name));
  m.set("category", p.category);
  if (p.default !== undefined) m.set("default", text(p.default));
  if (p.description !== undefined) m.set("description", text(p.description));
  return m;
}

function nodeNode(node: DeploymentNode): YAMLMap {
  const mappings = Object.entries(node.mappings ?? {});
  const m = new YAMLMap();
  m.flow = mappings.length === 0 && !node.image.includes("\n") && !node.cloud?.includes("\n");
  m.set("image", text(node.image));
  m.set("multiplicity", node.multiplicity);
  if (node.cloud !== undefined) m.set("cloud", text(node.cloud));
  if (mappings.length > 0) {
    const mm = new YAMLMap();
    for (const [input, value] of mappings) mm.set(input, text(value));
    m.set("mappings", mm);
  }
  return m;
}
