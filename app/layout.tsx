import type { ReactNode } from "react";
import "./globals.css";

export const metadata = { title: "SlipStream", description: "Multi-machine deployment and testing" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
