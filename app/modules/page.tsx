import { ModulesBrowser } from "../components/modules-browser";

export const metadata = { title: "Modules" };

export default function ModulesPage() {
  return <ModulesBrowser path="" />;
}
