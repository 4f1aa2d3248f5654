// ESLint for `npm run lint`: the recommended rules of ESLint, typescript-eslint and React's hooks (the rules
// of hooks, effect dependencies, and the React Compiler's checks). tsc and prettier run beside it.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/", "src/openapi.d.ts"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  reactHooks.configs.flat.recommended,
  { linterOptions: { reportUnusedDisableDirectives: "error" } },
);
