// SCT and STH signing and verification. Pure: keys are passed in as KeyObjects or SPKI bytes.
export { logIdFromSpki } from './log-id.js';
export { createSigner, signerFromFunction, type LogSigner } from './log-signer.js';
export { verifyDigitallySigned, verifySct, verifySth } from './verify.js';
export { generateLogKey } from './generate-log-key.js';
export { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsa-der.js';
