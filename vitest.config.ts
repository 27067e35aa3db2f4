import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "loadtest/**/*.test.ts"],
    globalSetup: ["test/support/redis-setup.ts", "test/support/tmp-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
