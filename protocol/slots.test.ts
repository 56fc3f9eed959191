import { describe, expect, it } from "vitest";
import { Slots } from "./slots";

describe("Slots", () => {
  it("lets `size` holders in at once; the others get a slot given back, in the order they came", async () => {
    const slots = new Slots(2);
    const order: string[] = [];
    const holders = new Map<string, () => void>();
    const enter = (name: string) =>
      slots.take().then((release) => {
        order.push(name);
        holders.set(name, release);
      });
    const all = ["a", "b", "c", "d"].map(enter);
    await Promise.all(all.slice(0, 2));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(["a", "b"]);

    holders.get("b")!();
    await all[2];
    expect(order).toEqual(["a", "b", "c"]);
    holders.get("a")!();
    await all[3];
    expect(order).toEqual(["a", "b", "c", "d"]);
  });

  it("a slot given back twice frees one slot, not two", async () => {
    const slots = new Slots(1);
    const release = await slots.take();
    const second = slots.take();
    const third = slots.take();
    let thirdIn = false;
    void third.then(() => (thirdIn = true));
    release();
    release();
    const releaseSecond = await second;
    await new Promise((r) => setImmediate(r));
    expect(thirdIn).toBe(false);
    releaseSecond();
    await third;
  });

  it("a slot given back with no one waiting is free for the next taker at once", async () => {
    const slots = new Slots(1);
    (await slots.take())();
    (await slots.take())();
    await expect(
      Promise.race([slots.take().then(() => "in"), new Promise((r) => setImmediate(r, "waiting"))]),
    ).resolves.toBe("in");
  });
});
