// Lint rules: typescript-eslint's recommended set, the rules of hooks, jsx-a11y for accessibility, and import
// boundaries: shared -> features -> app, and no feature importing another feature.
import { readdirSync } from 'node:fs';

import js from '@eslint/js';
import jsxA11y from 'eslint-plugin-jsx-a11y';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const features = readdirSync(new URL('./src/features', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'playwright-report', 'test-results', 'src/lib/api/schema.d.ts'] },
  {
    extends: [js.configs.recommended, ...tseslint.configs.recommended, jsxA11y.flatConfigs.recommended],
    files: ['**/*.{ts,tsx}'],
    languageOptions: { ecmaVersion: 2022, globals: { ...globals.browser, ...globals.node } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Scrollable tables are focusable regions so keyboard users can scroll them (axe: scrollable-region-focusable).
      'jsx-a11y/no-noninteractive-tabindex': ['error', { tags: [], roles: ['region', 'tabpanel'] }],
    },
  },
  {
    // Imports flow shared -> features -> app (bulletproof-react): nothing below the app layer imports it.
    files: ['src/components/**', 'src/hooks/**', 'src/lib/**', 'src/types/**', 'src/features/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@/app/*'], message: 'shared code and features must not import from the app layer' }] },
      ],
    },
  },
  {
    // Shared code (components, hooks, lib) never reaches into a feature.
    files: ['src/components/**', 'src/hooks/**', 'src/lib/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@/app/*'], message: 'shared code must not import from the app layer' },
            { group: ['@/features/*'], message: 'shared code must not import from a feature' },
          ],
        },
      ],
    },
  },
  // Each feature imports shared code and itself only: what two features share moves to components/, hooks/ or lib/.
  ...features.map((feature) => ({
    files: [`src/features/${feature}/**`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@/app/*'], message: 'features must not import from the app layer' },
            {
              group: ['@/features/*', `!@/features/${feature}`, `!@/features/${feature}/**`],
              message: `the ${feature} feature must not import another feature`,
            },
          ],
        },
      ],
    },
  })),
);
