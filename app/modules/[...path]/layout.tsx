import type { Metadata } from "next";
import type { ReactNode } from "react";

/** The module's own name first, so tabs of several modules stay apart. */
export async function generateMetadata({ params }: { params: Promise<{ path: string[] }> }): Promise<Metadata> {
  const { path } = await params;
  const name = decodeURIComponent(path.at(-1) ?? "");
  return { title: name ? `${name} · Modules` : "Modules" };
}

export default function ModuleLayout({ children }: { children: ReactNode }) {
  return children;
}
