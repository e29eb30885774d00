import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@agentidp/config';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const KEY_FILE = 'signing-keys-encryption.key';

/**
 * Encrypts signing keys at rest with AES-256-GCM under SIGNING_KEYS_ENCRYPTION_KEY. When that is
 * unset, a key is generated once and kept under DATA_DIR (mode 0600); every replica must then be
 * given the same key, which is why a warning says so.
 */
@Injectable()
export class KeyEncryption {
  private readonly logger = new Logger(KeyEncryption.name);
  private key?: Buffer;

  constructor(private readonly config: AppConfig) {}

  encrypt(plaintext: Buffer): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey(), iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
  }

  decrypt(sealed: Buffer): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey(), sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
  }

  private encryptionKey(): Buffer {
    if (this.key) return this.key;
    if (this.config.token.encryptionKey) {
      this.key = this.config.token.encryptionKey;
      return this.key;
    }
    const dir = this.config.database.dataDir;
    const file = join(dir, KEY_FILE);
    if (existsSync(file)) {
      this.key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    } else {
      mkdirSync(dir, { recursive: true });
      this.key = randomBytes(32);
      writeFileSync(file, `${this.key.toString('base64')}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    this.logger.warn(
      `SIGNING_KEYS_ENCRYPTION_KEY is not set: using the key kept in ${file}. ` +
        'Set SIGNING_KEYS_ENCRYPTION_KEY (openssl rand -base64 32) to the same value on every replica.',
    );
    return this.key;
  }
}
