import { SnapshotView } from "./snapshot-view";

export const metadata = { title: "Open a run snapshot" };

export default function SnapshotPage() {
  return <SnapshotView />;
}
