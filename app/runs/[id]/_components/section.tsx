import type { ReactNode } from "react";

/** A titled card of the run page; its heading names the section for assistive technology. */
export function Section({
  title,
  id,
  actions,
  children,
  className,
}: {
  title: string;
  id: string;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`card section ${className ?? ""}`} aria-labelledby={id}>
      <div className="section-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
