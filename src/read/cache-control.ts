// Cache-Control values of the read path. Whatever can change (the latest tree head, a page
// cut short by the tree size) gets a few seconds; what can never change gets a day and
// `immutable`, so a CDN absorbs monitors (docs/DESIGN.md "Read path").

/** Latest STH, checkpoint, get-roots, ragged get-entries pages. */
export const SHORT_CACHE = 'public, max-age=5';
/** Full aligned get-entries pages, proofs for a given tree size, tiles, issuers. */
export const IMMUTABLE_CACHE = 'public, max-age=86400, immutable';
/** Errors: a 404 for a tile that does not exist yet must not outlive the next STH. */
export const NO_CACHE = 'no-store';
