import { generateKeyPairSync } from 'node:crypto';

/** A fresh ECDSA P-256 log key: the private key as PKCS#8 PEM, the public key as DER SPKI. */
export function generateLogKey(): { privateKeyPem: string; publicKeySpki: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeySpki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
  };
}
