// A SoftHSM2 token in a temporary directory, for tests and benches of PKCS#11 keys. SoftHSM
// reads SOFTHSM2_CONF when the module is initialised, so this sets it in process.env (and
// the env handed to child processes) before anything opens the module. One per process:
// the module is initialised once per process and keeps its configuration until finalised.
// test/ensure-services.sh installs the Debian package softhsm2 when it is missing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULE_CANDIDATES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'];

export interface SoftHsm {
  dir: string;
  /** The SoftHSM2 PKCS#11 library. */
  module: string;
  /** SOFTHSM2_CONF, CTLOG_PKCS11_MODULE and CTLOG_PKCS11_PIN_FILE, for child processes. */
  env: Record<string, string>;
  pin: string;
  pinFile: string;
  /** Initialises a new token with the user PIN `pin`. */
  initToken(label: string): void;
  remove(): void;
}

export function softHsmModule(): string {
  const m = MODULE_CANDIDATES.find((p) => existsSync(p));
  if (!m) throw new Error('SoftHSM2 is not installed (no libsofthsm2.so); run test/ensure-services.sh, or apt-get install softhsm2');
  return m;
}

export function createSoftHsm(pin = '123456'): SoftHsm {
  const module = softHsmModule();
  const dir = mkdtempSync(join(tmpdir(), 'ctlog-softhsm-'));
  const tokens = join(dir, 'tokens');
  execFileSync('mkdir', ['-p', tokens]);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pinFile = join(dir, 'pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  process.env.SOFTHSM2_CONF = conf;
  const env = { SOFTHSM2_CONF: conf, CTLOG_PKCS11_MODULE: module, CTLOG_PKCS11_PIN_FILE: pinFile };
  return {
    dir,
    module,
    env,
    pin,
    pinFile,
    initToken(label) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '12345678', '--pin', pin], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe' });
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
