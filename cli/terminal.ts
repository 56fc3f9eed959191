/**
 * Text for a terminal. What the CLI prints includes text recipes wrote (ss-display values, abort messages, failure
 * details, parameter values): any member controls it, and a terminal obeys escape sequences in it (clear the
 * screen, set the title, OSC 52 the clipboard). Escape sequences are dropped whole, so no parameter bytes are left
 * behind, and every other C0/C1 control but newline and tab becomes `?`.
 */
const ESC = "\\u001b";
const SEQUENCES = new RegExp(
  [
    // CSI: ESC [ parameters intermediates final
    `${ESC}\\[[0-?]*[ -/]*[@-~]`,
    // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (or the end of the text)
    `${ESC}[\\]PX^_][\\s\\S]*?(?:\\u0007|${ESC}\\\\|\\u009c|$)`,
    // the 8-bit forms of CSI and of the string introducers
    "\\u009b[0-?]*[ -/]*[@-~]",
    "[\\u0090\\u0098\\u009d\\u009e\\u009f][\\s\\S]*?(?:\\u0007|\\u009c|$)",
    // any other escape: ESC, intermediates, a final
    `${ESC}[ -/]*[0-~]?`,
  ].join("|"),
  "g",
);
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function terminalSafe(text: string): string {
  return text.replace(SEQUENCES, "").replace(CONTROLS, "?");
}
