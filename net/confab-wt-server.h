/* confab-wt-server.h: a WebTransport server on one UDP socket: QUIC (ngtcp2 +
 * GnuTLS, ALPN h3), the HTTP/3 extended CONNECT, and one ConfabWtSession per
 * accepted CONNECT. Lives on the thread-default GMainContext it was created
 * on; many connections share the socket, each has exactly one timer. */
#pragma once

#include "confab-wt-session.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_WT_SERVER (confab_wt_server_get_type ())
G_DECLARE_FINAL_TYPE (ConfabWtServer, confab_wt_server, CONFAB, WT_SERVER, GObject)

/* Decides a CONNECT before it is answered: return 200 to accept (connect
 * "packet"/"closed" on the session now, and keep a ref if you want it), or
 * an HTTP status such as 400, 401, 403 or 404 to refuse. Called on the
 * server's main context; must not destroy the server. */
typedef guint (*ConfabWtRequestFunc) (ConfabWtServer *server,
                                      ConfabWtSession *session,
                                      const char *path,
                                      gpointer user_data);

/* With cert_file and key_file NULL, a self-signed ECDSA P-256 certificate
 * valid 13 days is generated (browsers accept such a certificate by hash). */
ConfabWtServer *confab_wt_server_new (const char *cert_file, const char *key_file, GError **error);
/* Binds address:port (port 0 = any free port). */
gboolean
confab_wt_server_listen (ConfabWtServer *self, const char *address, guint16 port, GError **error);
guint16 confab_wt_server_get_port (ConfabWtServer *self);
void confab_wt_server_set_request_func (ConfabWtServer *self,
                                        ConfabWtRequestFunc func,
                                        gpointer user_data,
                                        GDestroyNotify destroy);
/* QUIC idle timeout for new connections (default 30 s, PROTOCOL.md §4.7). */
void confab_wt_server_set_idle_timeout (ConfabWtServer *self, guint timeout_ms);
/* SHA-256 of the DER certificate: 32 bytes, and base64 for /config.js. */
const guint8 *confab_wt_server_get_cert_hash (ConfabWtServer *self);
char *confab_wt_server_dup_cert_hash_base64 (ConfabWtServer *self);
/* The certificate as PEM (tests and the relay's wss:// reuse it). */
char *confab_wt_server_dup_cert_pem (ConfabWtServer *self);
/* The generated certificate's private key as PEM (NULL when loaded from
 * files: the caller has the file), so wss:// can serve the same identity. */
char *confab_wt_server_dup_key_pem (ConfabWtServer *self);
guint confab_wt_server_get_n_connections (ConfabWtServer *self);
/* Secret behind stateless reset tokens. When it survives a restart (same
 * bytes given again, or the same --key file), clients of the old process
 * learn at their next packet that their connection is gone, instead of after
 * the idle timeout. Call before listen. Default: random per process. */
void confab_wt_server_set_reset_secret (ConfabWtServer *self, const guint8 *secret, gsize len);

G_END_DECLS
