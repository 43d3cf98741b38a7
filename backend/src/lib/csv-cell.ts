/** A spreadsheet runs a cell that starts like a formula (OWASP: CSV injection); a leading ' makes it text. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** Text as a CSV cell that a spreadsheet shows but never runs; other values pass unchanged. */
export const defuseFormula = (value: unknown): unknown =>
  typeof value === 'string' && FORMULA_START.test(value) ? `'${value}` : value;
