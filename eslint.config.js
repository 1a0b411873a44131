// Lint rules: typescript-eslint's strict, type-aware set over src and test. Formatting is prettier's
// job (.prettierrc.json), so no stylistic rules here. The few options below are choices, not
// silencing: numbers and booleans read fine in messages, and `return voidCall()` in a void function
// is this codebase's way of ending a branch.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'nemesis-out/', 'bin/', 'eslint.config.js']},
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname},
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', {allowNumber: true, allowBoolean: true}],
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        {ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true},
      ],
    },
  },
  {
    // Tests may say `x!` of what they just produced (an element they asserted, a map entry they set):
    // if it is missing the test fails, which is what it is for. Source code uses real checks instead.
    // (No chai property assertions such as `.to.be.true`: they are bare expressions; use `.to.equal(true)`.)
    files: ['test/**/*.ts'],
    rules: {'@typescript-eslint/no-non-null-assertion': 'off'},
  },
)
