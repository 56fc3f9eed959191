import { describe, expect, it } from "vitest";
import { draftKey, dropDraft, keepDraft, readDraft } from "./kept-drafts";

/** The Web Storage interface over a Map (vitest runs in node, which has no localStorage). */
class MapStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

describe("kept drafts", () => {
  it("are kept per user and module, with the version they were based on", () => {
    const s = new MapStorage();
    keepDraft(s, "bob", "p/system", { baseVersion: 3, savedAt: "2026-12-03T10:00:00Z", draft: { n: 4 } });
    expect(readDraft(s, "bob", "p/system")).toEqual({
      baseVersion: 3,
      savedAt: "2026-12-03T10:00:00Z",
      draft: { n: 4 },
    });
    expect(readDraft(s, "alice", "p/system")).toBeNull();
    expect(readDraft(s, "bob", "p/other")).toBeNull();
    dropDraft(s, "bob", "p/system");
    expect(readDraft(s, "bob", "p/system")).toBeNull();
  });

  it("ignores what is not a draft (another version of the app, a hand edit)", () => {
    const s = new MapStorage();
    s.setItem(draftKey("bob", "p"), "{not json");
    expect(readDraft(s, "bob", "p")).toBeNull();
    s.setItem(draftKey("bob", "p"), JSON.stringify({ savedAt: "x", draft: {} }));
    expect(readDraft(s, "bob", "p")).toBeNull();
  });

  it("a full storage leaves the page as it was", () => {
    const full = new MapStorage();
    full.setItem = () => {
      throw new DOMException("full", "QuotaExceededError");
    };
    expect(() => keepDraft(full, "bob", "p", { baseVersion: 1, savedAt: "x", draft: 1 })).not.toThrow();
  });
});
