import type { Metadata } from "next";
import type { ReactNode } from "react";
import { TopBar } from "./components/shell";
import { Providers } from "./providers";
import "./globals.css";
import "./responsive.css";

export const metadata: Metadata = {
  title: { default: "SlipStream", template: "%s — SlipStream" },
  description: "Multi-machine deployment and testing, watched live by the whole team",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <TopBar />
          <main className="page" id="content" tabIndex={-1}>
            {children}
          </main>
        </Providers>
      </body>
    </html>
  );
}
