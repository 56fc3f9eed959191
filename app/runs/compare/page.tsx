import { Suspense } from "react";
import { CompareView } from "./compare-view";

export const metadata = { title: "Compare runs" };

export default function ComparePage() {
  return (
    <Suspense fallback={<p className="page-loading">Loading…</p>}>
      <CompareView />
    </Suspense>
  );
}
