// The box's speed for Ed25519, outside the worker: µs per verification and per signature of a
// 600-byte message on one core, through libsodium (the worker's verifier and short-message signer)
// and OpenSSL (its signer from 24 KiB). Runs of different days compare through these figures
// (README, "Performance"; loadgen reports the verification as `verify_us`).
//
//   cc -O2 -o /tmp/ed25519 Benchmarks/probes/ed25519.c -lsodium -lcrypto && /tmp/ed25519
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { iterations = 20000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    if (sodium_init() < 0) return 1;
    unsigned char publicKey[32], secretKey[64], signature[64], message[600];
    memset(message, 'a', sizeof message);
    crypto_sign_keypair(publicKey, secretKey);
    crypto_sign_detached(signature, NULL, message, sizeof message, secretKey);

    int valid = 0;
    double start = now();
    for (int i = 0; i < iterations; i++)
        valid += crypto_sign_verify_detached(signature, message, sizeof message, publicKey) == 0;
    printf("libsodium verify %.1f us (%d valid)\n", (now() - start) / iterations * 1e6, valid);

    start = now();
    for (int i = 0; i < iterations; i++) crypto_sign_detached(signature, NULL, message, sizeof message, secretKey);
    printf("libsodium sign   %.1f us\n", (now() - start) / iterations * 1e6);

    EVP_PKEY *verifier = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, publicKey, 32);
    EVP_PKEY *signer = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, secretKey, 32);
    if (!verifier || !signer) return 1;
    valid = 0;
    start = now();
    for (int i = 0; i < iterations; i++) {
        EVP_MD_CTX *context = EVP_MD_CTX_new();
        EVP_DigestVerifyInit(context, NULL, NULL, NULL, verifier);
        valid += EVP_DigestVerify(context, signature, 64, message, sizeof message) == 1;
        EVP_MD_CTX_free(context);
    }
    printf("OpenSSL verify   %.1f us (%d valid)\n", (now() - start) / iterations * 1e6, valid);

    size_t length = 64;
    start = now();
    for (int i = 0; i < iterations; i++) {
        EVP_MD_CTX *context = EVP_MD_CTX_new();
        EVP_DigestSignInit(context, NULL, NULL, NULL, signer);
        EVP_DigestSign(context, signature, &length, message, sizeof message);
        EVP_MD_CTX_free(context);
    }
    printf("OpenSSL sign     %.1f us\n", (now() - start) / iterations * 1e6);
    EVP_PKEY_free(verifier);
    EVP_PKEY_free(signer);
    return 0;
}
