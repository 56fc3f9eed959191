"use client";

import { useParams } from "next/navigation";
import { ModulesBrowser } from "../../components/modules-browser";

export default function ModulePage() {
  const params = useParams<{ path: string[] }>();
  const path = (params.path ?? []).map((s) => decodeURIComponent(s)).join("/");
  return <ModulesBrowser path={path} />;
}
