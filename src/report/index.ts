/** Report formats for `owl compare`: terminal table, Markdown, JSON, self-contained HTML. Browser-safe. */
export * from './format.js';
export * from './rows.js';
export * from './text.js';
export * from './html.js';
