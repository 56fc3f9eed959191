import { describe, expect, it } from "vitest";
import type { ModuleRecord } from "@/protocol/modules";
import { deploymentDraftProblems, imageDraftProblems } from "./editor-checks";

const img = (path: string): ModuleRecord => ({
  path,
  kind: "image",
  owner: "admin",
  version: 1,
  updatedAt: "",
  doc: { kind: "image", parameters: [], targets: {} },
});

describe("editor checks before saving", () => {
  const modules = [img("p/web"), img("common/base")];
  it("names an empty image, an unknown image and a node of 0 machines", () => {
    expect(
      deploymentDraftProblems(
        "p/system",
        [
          { name: "a", image: "web", multiplicity: "1" },
          { name: "b", image: "/common/base", multiplicity: "0" },
          { name: "c", image: "wbe", multiplicity: "2" },
          { name: "d", image: " ", multiplicity: "1" },
        ],
        modules,
      ),
    ).toEqual({
      "nodes.b.multiplicity": expect.stringContaining("0 starts no machine"),
      "nodes.c.image": "there is no image at 'p/wbe'",
      "nodes.d.image": "choose the image this node runs",
    });
  });
  it("names image parameters without a name", () => {
    expect(imageDraftProblems([{ name: "port" }, { name: "" }])).toEqual({
      "parameters[1].name": "give the parameter a name",
    });
  });
});
