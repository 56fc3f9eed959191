import { RunsList } from "./components/runs-list";

export default function Home() {
  return <RunsList />;
}
