import { RunsList } from "./components/runs-list";

// the root segment's own page: the layout's title template applies only below it
export const metadata = { title: { absolute: "Runs — SlipStream" } };

export default function Home() {
  return <RunsList />;
}
