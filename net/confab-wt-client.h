/* confab-wt-client.h: opens a WebTransport session to a server: QUIC
 * handshake (verifying the certificate fully, by SHA-256 pin, or not at all),
 * HTTP/3 SETTINGS and the extended CONNECT to a path. */
#pragma once

#include "confab-wt-session.h"

G_BEGIN_DECLS

typedef struct
{
  /* Base64 SHA-256 of the server's DER certificate; NULL for full verification. */
  const char *cert_hash;
  gboolean insecure;          /* accept any certificate (tests, --insecure) */
  guint idle_timeout_ms;      /* 0 = 30 s */
  guint keep_alive_ms;        /* 0 = none; PING this often when idle */
  guint handshake_timeout_ms; /* 0 = 5 s */
} ConfabWtClientOptions;

/* url: "https://host:port/path". Returns a session that emits "ready" or
 * "closed" (with the reason) on the thread-default main context. The caller
 * owns the only reference; dropping it tears the connection down silently
 * (close it first with confab_wt_session_close() to tell the server). */
ConfabWtSession *
confab_wt_client_connect (const char *url, const ConfabWtClientOptions *options, GError **error);

G_END_DECLS
