"use client";

import { usePathname } from "next/navigation";
import { type ReactNode, useEffect, useId, useState } from "react";

/**
 * The module tree beside the page on a wide screen; on a narrow one a drawer behind a "Module tree" button, so a
 * module's own page (and its Run… button) comes first instead of a screenful of folders. The CSS decides which.
 */
export function ModuleTreeDrawer({ children }: { children: ReactNode }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const pathname = usePathname();
  // the drawer closes once it took you to another module
  // biome-ignore lint/correctness/useExhaustiveDependencies: the path change is the trigger
  useEffect(() => setOpen(false), [pathname]);
  return (
    <div className={`tree-drawer${open ? " open" : ""}`}>
      <button
        type="button"
        className="button tree-drawer-toggle"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((o) => !o)}
      >
        {open ? "Hide the module tree" : "Module tree"}
      </button>
      <aside className="sidebar card" aria-label="Module tree" id={id}>
        {children}
      </aside>
    </div>
  );
}
