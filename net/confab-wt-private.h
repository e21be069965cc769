/* confab-wt-private.h: what the QUIC connection code (confab-wt-conn.c), the
 * UDP endpoint (confab-quic-endpoint.c), the server, the client and the session share.
 * Not installed, not for callers outside net/confab-wt*.c. */
#pragma once

#include "confab-h3.h"
#include "confab-quic-compat.h"
#include "confab-wt-session.h"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _ConfabWtEndpoint ConfabWtEndpoint;
typedef struct _ConfabWtConn ConfabWtConn;

/* Our connection ids are all this long, so short headers can be routed. */
#define CONFAB_QUIC_SCID_LEN 18
/* Bounds on what one connection may queue for sending. */
#define CONFAB_WT_MAX_QUEUED_STREAMS   1024
#define CONFAB_WT_MAX_QUEUED_BYTES     (32 * 1024 * 1024)
#define CONFAB_WT_MAX_QUEUED_DATAGRAMS 256
/* Most bytes of partial incoming messages one connection may hold. */
#define CONFAB_WT_MAX_BUFFERED_BYTES (24 * 1024 * 1024)

typedef struct
{
  gboolean is_server;
  guint idle_timeout_ms;
  guint keep_alive_ms;
  guint handshake_timeout_ms;
} ConfabWtConnConfig;

/* How the endpoint schedules one connection: it must be the FIRST member of
 * struct _ConfabWtConn, so the endpoint reaches it without a call. The
 * endpoint keeps every connection's timer in one min-heap and the connections
 * that want to write now in one queue, all behind one GSource: no GSource
 * (and no g_source_set_ready_time, which writes GLib's wake-up eventfd on
 * every change) per connection. */
typedef struct
{
  GList link;       /* in ep->dirty while dirty; data = the connection */
  gboolean dirty;   /* wants a write pass (queued data, read packets, death) */
  guint heap_index; /* in ep->timers, or CONFAB_WT_NO_TIMER */
  guint64 expiry;   /* ns on confab_quic_now ()'s clock */
} ConfabWtSched;

#define CONFAB_WT_NO_TIMER    G_MAXUINT
#define CONFAB_WT_SCHED(conn) ((ConfabWtSched *) (conn))

/* Outgoing packets of one dispatch pass (confab-quic-endpoint.c). */
typedef struct _ConfabWtTx ConfabWtTx;

/* Called by a server connection when a CONNECT arrives; returns the status. */
typedef guint (*ConfabWtConnRequestFunc) (ConfabWtConn *conn,
                                          ConfabWtSession *session,
                                          const char *path,
                                          gpointer user_data);

struct _ConfabWtEndpoint
{
  gboolean is_server;
  GSocket *socket;
  int fd;
  GSource *io_source;
  GSource *conn_source; /* every connection's timer */
  GSource *pass_source; /* a pending write pass for ep->dirty (one-shot idle) */
  GMainContext *context;
  GQueue dirty;      /* ConfabWtSched.link of connections to write */
  GPtrArray *timers; /* min-heap of connections by ConfabWtSched.expiry */
  guint in_pass;     /* > 0: packets are batched, sent at the pass's end */
  ConfabWtTx *tx;
  gboolean gso; /* the kernel takes UDP_SEGMENT (checked at bind) */
  struct sockaddr_storage local;
  socklen_t local_len;

  gnutls_certificate_credentials_t cred;
  gboolean owns_cred; /* clients own theirs, servers share */
  ConfabWtConnConfig config;
  guint8 reset_secret[32]; /* stateless reset tokens */

  GHashTable *conns_by_cid; /* connection id -> ConfabWtConn (borrowed) */
  GList *conns;             /* owned */
  guint n_conns;
  guint max_conns;

  ConfabWtConnRequestFunc request_func;
  gpointer request_data;

  /* Client only: the one connection's session (borrowed; it owns us). */
  ConfabWtSession *client_session;
};

ConfabWtEndpoint *confab_wt_endpoint_new (gboolean is_server,
                                          const ConfabWtConnConfig *config,
                                          gnutls_certificate_credentials_t cred);
gboolean confab_wt_endpoint_bind (ConfabWtEndpoint *ep, GInetSocketAddress *addr, GError **error);
/* Client only: connects the socket to the server, so ICMP errors (port
 * unreachable) come back as ECONNREFUSED instead of being dropped. */
gboolean confab_wt_endpoint_connect (ConfabWtEndpoint *ep,
                                     const struct sockaddr *remote,
                                     socklen_t remote_len,
                                     GError **error);
void confab_wt_endpoint_free (ConfabWtEndpoint *ep);
/* Copies one packet into the batch (sent at once outside a pass). */
void confab_wt_endpoint_send (ConfabWtEndpoint *ep,
                              const struct sockaddr *to,
                              socklen_t to_len,
                              const guint8 *data,
                              gsize len);
/* Zero-copy sending: ngtcp2 writes the packet straight into the batch.
 * reserve returns room for CONFAB_WT_TX_SLOT bytes, the same pointer until
 * commit (so a WRITE_MORE sequence keeps its buffer); commit appends the
 * packet written there, joining the previous one into a GSO send when it
 * goes to the same address and fits. */
#define CONFAB_WT_TX_SLOT NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
guint8 *confab_wt_endpoint_tx_reserve (ConfabWtEndpoint *ep);
void confab_wt_endpoint_tx_commit (ConfabWtEndpoint *ep,
                                   const struct sockaddr *to,
                                   socklen_t to_len,
                                   gsize len);
/* The connection wants a write pass soon (in this loop iteration when
 * called from a pass or a socket read, else in the next). Never reenters. */
void confab_wt_endpoint_wake (ConfabWtEndpoint *ep, ConfabWtConn *conn);
/* Its next timer (UINT64_MAX: none). */
void confab_wt_endpoint_set_timer (ConfabWtEndpoint *ep, ConfabWtConn *conn, guint64 expiry);
/* It is being freed: out of the queue and the heap. */
void confab_wt_endpoint_forget (ConfabWtEndpoint *ep, ConfabWtConn *conn);
void
confab_wt_endpoint_add_cid (ConfabWtEndpoint *ep, const guint8 *cid, gsize len, ConfabWtConn *conn);
void confab_wt_endpoint_remove_cid (ConfabWtEndpoint *ep, const guint8 *cid, gsize len);

/* ---- connection (confab-wt-conn.c) ---- */
ConfabWtConn *confab_wt_conn_new_server (ConfabWtEndpoint *ep,
                                         const ngtcp2_pkt_hd *hd,
                                         const struct sockaddr *remote,
                                         socklen_t remote_len,
                                         GError **error);
ConfabWtConn *confab_wt_conn_new_client (ConfabWtEndpoint *ep,
                                         const struct sockaddr *remote,
                                         socklen_t remote_len,
                                         const char *host,
                                         const char *authority,
                                         const char *path,
                                         const guint8 *pin,
                                         gboolean insecure,
                                         ConfabWtSession *session,
                                         GError **error);
/* Feeds one UDP datagram; the caller then calls confab_wt_conn_flush(). */
void confab_wt_conn_read (ConfabWtConn *conn,
                          const struct sockaddr *remote,
                          socklen_t remote_len,
                          const guint8 *data,
                          gsize len);
/* Writes everything ngtcp2 lets us and re-arms the connection's one timer. */
void confab_wt_conn_flush (ConfabWtConn *conn);
/* The endpoint's pass: the timer expired or the connection was woken.
 * Handles expiry, writes, re-arms; destroys a dead connection (its session's
 * "closed" runs here). */
void confab_wt_conn_run (ConfabWtConn *conn);
/* Frees without a word to the peer (endpoint teardown). */
void confab_wt_conn_free (ConfabWtConn *conn);
gboolean confab_wt_conn_is_dead (ConfabWtConn *conn);
/* Client: the server's address answered ICMP port unreachable: give up now
 * rather than at the handshake or idle timeout. */
void confab_wt_conn_peer_unreachable (ConfabWtConn *conn);

/* Session -> connection (all just queue and wake the timer: never reentrant). */
gboolean confab_wt_conn_queue_stream (ConfabWtConn *conn, GBytes *message);
gboolean confab_wt_conn_queue_datagram (ConfabWtConn *conn, GBytes *message);
gsize confab_wt_conn_max_datagram_size (ConfabWtConn *conn);
void confab_wt_conn_close_session (ConfabWtConn *conn, guint32 code, const char *reason);
void confab_wt_conn_drain_session (ConfabWtConn *conn);
/* Sends CONNECTION_CLOSE now (no waiting for the peer) and marks the
 * connection dead. */
void confab_wt_conn_close_now (ConfabWtConn *conn);
char *confab_wt_conn_dup_remote (ConfabWtConn *conn);
/* Tests only: a stream of our own with exactly these bytes and FIN, outside
 * any framing, to play a broken peer. */
gboolean confab_wt_conn_queue_raw (ConfabWtConn *conn, gboolean bidi, GBytes *bytes);

/* ---- session (confab-wt-session.c) ---- */
ConfabWtSession *confab_wt_session_new_internal (ConfabWtConn *conn, guint64 id, const char *path);
ConfabWtConn *confab_wt_session_get_conn (ConfabWtSession *self);
void confab_wt_session_attach_conn (ConfabWtSession *self, ConfabWtConn *conn);
void confab_wt_session_set_owned_endpoint (ConfabWtSession *self, ConfabWtEndpoint *ep);
void confab_wt_session_mark_ready (ConfabWtSession *self, guint status);
void confab_wt_session_set_status (ConfabWtSession *self, guint status);
void confab_wt_session_mark_draining (ConfabWtSession *self);
void confab_wt_session_deliver (ConfabWtSession *self, GBytes *message, gboolean datagram);
/* The connection is going away (or the session ended): emits "closed" once. */
void confab_wt_session_finish (ConfabWtSession *self,
                               const GError *error,
                               guint32 code,
                               const char *reason);
ConfabWtStats *confab_wt_session_stats (ConfabWtSession *self);

/* ---- certificates (confab-quic-cert.c) ---- */
gboolean confab_quic_cert_generate (gnutls_certificate_credentials_t cred,
                                    guint8 hash[32],
                                    char **pem,
                                    char **key_pem,
                                    GError **error);
gboolean confab_quic_cert_load (gnutls_certificate_credentials_t cred,
                                const char *cert_file,
                                const char *key_file,
                                guint8 hash[32],
                                char **pem,
                                GError **error);
extern const char confab_quic_tls_priority[];

static inline guint64
confab_quic_now (void)
{
  return (guint64) g_get_monotonic_time () * 1000;
}

G_END_DECLS
