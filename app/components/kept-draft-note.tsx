"use client";

import { formatDateTime } from "../lib/format";
import type { RestoredDraft } from "../lib/kept-drafts";

/** Says that the editor holds unsaved changes kept in this browser (a session expiry or a reload), with Discard. */
export function KeptDraftNote({ restored, onDiscard }: { restored: RestoredDraft | null; onDiscard: () => void }) {
  if (!restored) return null;
  return (
    <div className="alert alert-info kept-draft-note" role="status" data-testid="kept-draft-note">
      <span>
        Restored your unsaved changes from {formatDateTime(restored.savedAt)}. Save to keep them.
        {restored.changedMeanwhile &&
          ` The module changed meanwhile: your changes were made to version ${restored.baseVersion}, it is now at version ${restored.currentVersion}; saving replaces it with yours.`}
      </span>{" "}
      <button type="button" className="button small" onClick={onDiscard}>
        Discard
      </button>
    </div>
  );
}
