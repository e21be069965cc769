/* confab-quic-cert.c: the server's TLS identity. Either a certificate and key
 * from files, or a fresh self-signed ECDSA P-256 certificate valid 13 days:
 * the kind browsers accept by SHA-256 hash (serverCertificateHashes) without
 * any CA. Also holds the one TLS priority string QUIC needs (PLATFORM.md). */
#define G_LOG_DOMAIN "confab-quic"

#include "confab-wt-private.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

const char confab_quic_tls_priority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "+AES-128-CCM:-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519:+GROUP-SECP384R1:+GROUP-SECP521R1:"
    "%DISABLE_TLS13_COMPAT_MODE";

static gboolean
fail (GError **error, const char *what, int rv)
{
  g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CERTIFICATE, "%s: %s", what,
               gnutls_strerror (rv));
  return FALSE;
}

static gboolean
hash_and_pem (gnutls_x509_crt_t crt, guint8 hash[32], char **pem, GError **error)
{
  gnutls_datum_t der = { NULL, 0 }, text = { NULL, 0 };
  int rv;

  if ((rv = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der)) != 0)
    return fail (error, "export certificate", rv);
  rv = gnutls_hash_fast (GNUTLS_DIG_SHA256, der.data, der.size, hash);
  gnutls_free (der.data);
  if (rv != 0)
    return fail (error, "hash certificate", rv);
  if ((rv = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &text)) != 0)
    return fail (error, "export certificate", rv);
  *pem = g_strndup ((const char *) text.data, text.size);
  gnutls_free (text.data);
  return TRUE;
}

gboolean
confab_quic_cert_generate (gnutls_certificate_credentials_t cred,
                           guint8 hash[32],
                           char **pem,
                           char **key_pem,
                           GError **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  guint8 serial[16];
  time_t now = time (NULL);
  static const char ip[] = { 127, 0, 0, 1 };
  static const guint8 ip6[16] = { [15] = 1 };
  gboolean ok = FALSE;
  int rv;

  gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial);
  serial[0] &= 0x7f; /* a positive serial */
  if ((rv = gnutls_x509_privkey_init (&key)) != 0 ||
      (rv = gnutls_x509_privkey_generate (
           key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0)) != 0)
    {
      fail (error, "generate key", rv);
      goto out;
    }
  if ((rv = gnutls_x509_crt_init (&crt)) != 0 || (rv = gnutls_x509_crt_set_version (crt, 3)) != 0 ||
      (rv = gnutls_x509_crt_set_serial (crt, serial, sizeof serial)) != 0
      /* Browsers allow at most 14 days for hash-pinned certificates. */
      || (rv = gnutls_x509_crt_set_activation_time (crt, now - 60)) != 0 ||
      (rv = gnutls_x509_crt_set_expiration_time (crt, now + 13 * 24 * 3600)) != 0 ||
      (rv = gnutls_x509_crt_set_dn (crt, "CN=confab-relay", NULL)) != 0 ||
      (rv = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_DNSNAME, "localhost",
                                                  strlen ("localhost"), GNUTLS_FSAN_APPEND)) != 0 ||
      (rv = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, ip, sizeof ip,
                                                  GNUTLS_FSAN_APPEND)) != 0 ||
      (rv = gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_IPADDRESS, ip6, sizeof ip6,
                                                  GNUTLS_FSAN_APPEND)) != 0 ||
      (rv = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) != 0 ||
      (rv = gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) != 0 ||
      (rv = gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) != 0 ||
      (rv = gnutls_x509_crt_set_key (crt, key)) != 0 ||
      (rv = gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0)) != 0)
    {
      fail (error, "build certificate", rv);
      goto out;
    }
  if ((rv = gnutls_certificate_set_x509_key (cred, &crt, 1, key)) < 0)
    {
      fail (error, "install certificate", rv);
      goto out;
    }
  ok = hash_and_pem (crt, hash, pem, error);
  if (ok)
    {
      /* The relay serves wss:// with the same identity: it needs the key. */
      gnutls_datum_t text = { NULL, 0 };

      if ((rv = gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &text)) < 0)
        {
          ok = fail (error, "export key", rv);
          g_clear_pointer (pem, g_free);
          goto out;
        }
      *key_pem = g_strndup ((const char *) text.data, text.size);
      gnutls_memset (text.data, 0, text.size);
      gnutls_free (text.data);
    }

out:
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return ok;
}

gboolean
confab_quic_cert_load (gnutls_certificate_credentials_t cred,
                       const char *cert_file,
                       const char *key_file,
                       guint8 hash[32],
                       char **pem,
                       GError **error)
{
  gnutls_datum_t raw = { NULL, 0 };
  gnutls_x509_crt_t crt = NULL;
  gboolean ok;
  int rv;

  rv = gnutls_certificate_set_x509_key_file (cred, cert_file, key_file, GNUTLS_X509_FMT_PEM);
  if (rv < 0)
    return fail (error, cert_file, rv);
  if ((rv = gnutls_certificate_get_crt_raw (cred, 0, 0, &raw)) < 0)
    return fail (error, "read back certificate", rv);
  if ((rv = gnutls_x509_crt_init (&crt)) < 0 ||
      (rv = gnutls_x509_crt_import (crt, &raw, GNUTLS_X509_FMT_DER)) < 0)
    {
      if (crt != NULL)
        gnutls_x509_crt_deinit (crt);
      return fail (error, "parse certificate", rv);
    }
  ok = hash_and_pem (crt, hash, pem, error);
  gnutls_x509_crt_deinit (crt);
  return ok;
}
