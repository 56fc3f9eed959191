"use client";

import { useRef, useState } from "react";

/**
 * A plain-text code editor: monospace, line numbers, no wrapping, Tab indents. Esc then Tab moves focus on, so
 * the keyboard is never trapped in it.
 */
export function CodeEditor({
  value,
  onChange,
  label,
  id,
  readOnly = false,
  minLines = 8,
  invalid = false,
  describedBy,
}: {
  value: string;
  onChange?: (value: string) => void;
  label: string;
  id?: string;
  readOnly?: boolean;
  minLines?: number;
  invalid?: boolean;
  describedBy?: string;
}) {
  const gutter = useRef<HTMLDivElement>(null);
  const [escaped, setEscaped] = useState(false);
  const lines = Math.max(value.split("\n").length, minLines);
  const shown = Math.min(Math.max(lines, minLines), 30);

  const onKeyDown = (e: React.KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Escape") {
      setEscaped(true);
      return;
    }
    if (e.key === "Tab" && !escaped && !readOnly && onChange) {
      e.preventDefault();
      const t = e.currentTarget;
      const { selectionStart: start, selectionEnd: end } = t;
      const next = `${value.slice(0, start)}  ${value.slice(end)}`;
      onChange(next);
      requestAnimationFrame(() => {
        t.selectionStart = t.selectionEnd = start + 2;
      });
      return;
    }
    setEscaped(false);
  };

  return (
    <div className={`code-editor${invalid ? " invalid" : ""}${readOnly ? " readonly" : ""}`}>
      <div className="code-gutter" ref={gutter} aria-hidden="true">
        {Array.from({ length: lines }, (_, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: line numbers are their index
          <div key={i}>{i + 1}</div>
        ))}
      </div>
      <textarea
        id={id}
        aria-label={label}
        aria-describedby={describedBy}
        aria-invalid={invalid || undefined}
        className="code-area"
        spellCheck={false}
        autoCapitalize="off"
        autoCorrect="off"
        wrap="off"
        readOnly={readOnly}
        value={value}
        rows={shown}
        onChange={(e) => onChange?.(e.target.value)}
        onKeyDown={onKeyDown}
        onScroll={(e) => {
          if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
        }}
      />
    </div>
  );
}
