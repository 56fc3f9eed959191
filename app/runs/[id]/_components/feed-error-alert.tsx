import { useQuery, useQueryClient } from "@tanstack/react-query";
import { runKeys } from "@/app/lib/run-cache";

/** Said when the server refused to stream this run's events (the subscribe's error, kept by the live socket). */
export function FeedErrorAlert({ runId }: { runId: string }) {
  const qc = useQueryClient();
  const key = runKeys.feedError(runId);
  const feedError = useQuery({
    queryKey: key,
    queryFn: () => qc.getQueryData<string | null>(key) ?? null,
    initialData: null,
    staleTime: Number.POSITIVE_INFINITY,
  });
  if (!feedError.data) return null;
  return (
    <div className="alert alert-feed-error" role="alert" data-testid="feed-error">
      <strong>This page is not following the run live:</strong> {feedError.data}
      <p className="small">What you see may be out of date. Reload the page to try again.</p>
    </div>
  );
}
