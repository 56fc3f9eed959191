/**
 * Debian's Chromium as every browser test here launches it (never a downloaded build): the flags keep it off
 * the network, which this machine does not have, and let it run as root in a container.
 */
export const CHROMIUM = "/usr/lib/chromium/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
