import { describe, expect, it } from "vitest";
import { deriveKey } from "../../gateway/user-data/secret-values.js";

// The key a reference export's values are sealed under: Argon2id v1.3,
// 19,456 KiB, two passes, one lane, 32 bytes. The expected key was computed
// with the Argon2 reference implementation's own command-line tool
// (Debian's argon2 package), not with the library the gateway uses:
//   echo -n "correct horse battery staple" | argon2 0123456789abcdef -id -t 2 -k 19456 -p 1 -l 32 -r
describe("the key of a passphrase-encrypted export", () => {
  it("is the Argon2id reference implementation's", async () => {
    const key = await deriveKey("correct horse battery staple", Buffer.from("0123456789abcdef"));
    expect(key.toString("hex")).toBe("832e52b959b967b570ee4781f6c7bda7ced019ca266ac781fd2d94d4e853b0cd");
  });

  it("differs with one character of the passphrase or one byte of the salt", async () => {
    const base = (await deriveKey("correct horse battery staple", Buffer.from("0123456789abcdef"))).toString("hex");
    expect((await deriveKey("correct horse battery stapleX", Buffer.from("0123456789abcdef"))).toString("hex")).not.toBe(base);
    expect((await deriveKey("correct horse battery staple", Buffer.from("0123456789abcdeg"))).toString("hex")).not.toBe(base);
  });
});
