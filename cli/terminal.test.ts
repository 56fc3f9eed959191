import { describe, expect, it } from "vitest";
import { terminalSafe } from "./terminal.js";

const ESC = "\u001b";

describe("terminalSafe", () => {
  it.each([
    [`${ESC}]0;owned\u0007${ESC}[2Jafter`, "after", "OSC title (BEL) and CSI clear screen"],
    [`a${ESC}]52;c;Y3VybCB4fHNo${ESC}\\b`, "ab", "OSC 52 clipboard ended by ST"],
    [`a${ESC}]52;c;Y3VybCB4fHNo`, "a", "an OSC never ended"],
    [`red${ESC}[1;31mtext${ESC}[0m`, "redtext", "SGR colours"],
    [`x${ESC}Py`, "x", "DCS to the end"],
    [`x${ESC}cy`, "xy", "a two-byte escape (reset)"],
    [`x${ESC}`, "x", "a lone ESC"],
    ["x\u009b2Jy", "xy", "8-bit CSI"],
    ["x\u009d0;t\u009cy", "xy", "8-bit OSC ended by 8-bit ST"],
    ["a\rb\u0008c\u0000d\u007fe\u0085f", "a?b?c?d?e?f", "other controls become ?"],
  ])("%j → %j (%s)", (input, output) => {
    expect(terminalSafe(input)).toBe(output);
  });

  it("keeps newlines, tabs and any printable text", () => {
    expect(terminalSafe("line 1\n\tline 2 ✓ – ü 漢字")).toBe("line 1\n\tline 2 ✓ – ü 漢字");
  });
});
