"use client";

import { useParams } from "next/navigation";
import { RunView } from "./run-view";

export default function RunPageRoute() {
  const params = useParams<{ id: string }>();
  return <RunView key={params.id} id={params.id} />;
}
