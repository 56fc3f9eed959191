import { RunsList } from "../components/runs-list";

export const metadata = { title: "Runs" };

export default function RunsPage() {
  return <RunsList />;
}
