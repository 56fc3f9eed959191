import type { NextConfig } from "next";

const config: NextConfig = {
  // the custom server owns /api and /socket.io; Next serves only the UI
  poweredByHeader: false,
  reactStrictMode: true,
  typescript: { ignoreBuildErrors: false },
};

export default config;
