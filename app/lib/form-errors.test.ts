import { describe, expect, it } from "vitest";
import { ApiFailure } from "./api";
import { fieldErrors, unplacedErrors } from "./form-errors";

describe("fieldErrors", () => {
  it("takes the fields the server named, by their path in the module", () => {
    const err = new ApiFailure(400, "BAD_REQUEST", "refused", { "doc.nodes.a.image": "no image", tags: "too long" });
    expect(fieldErrors(err)).toEqual({ fields: { "nodes.a.image": "no image", tags: "too long" }, general: [] });
  });

  it("says the message when no field is named, or the error is not the server's", () => {
    expect(fieldErrors(new ApiFailure(409, "CONFLICT", "taken"))).toEqual({ fields: {}, general: ["taken"] });
    expect(fieldErrors(new TypeError("Failed to fetch"))).toEqual({ fields: {}, general: ["Failed to fetch"] });
  });
});

describe("unplacedErrors", () => {
  it("says the general errors, then each field error the form has no field for", () => {
    const errors = { fields: { role: "last admin", "nodes.x.cloud": "unknown" }, general: ["Not saved."] };
    expect(unplacedErrors(errors, (f) => f === "role")).toEqual(["Not saved.", "nodes.x.cloud: unknown"]);
    expect(unplacedErrors(errors, () => true)).toEqual(["Not saved."]);
  });
});
