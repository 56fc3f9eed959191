import { CloudsView } from "./clouds-view";

export const metadata = { title: "Clouds" };

export default function CloudsPage() {
  return <CloudsView />;
}
