import type { ReactNode } from "react";

// until the run loads; then useRunTitle names the run and its live state
export const metadata = { title: "Run" };

export default function RunLayout({ children }: { children: ReactNode }) {
  return children;
}
