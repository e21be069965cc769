/* confab-wt-session.h: one WebTransport session (one extended CONNECT), the
 * object the relay and the client hold. Messages arrive whole on "packet":
 * one unidirectional stream read to FIN, one bidirectional stream read to
 * FIN, or one datagram (PROTOCOL.md §1). Sending never blocks: it queues and
 * the session's connection writes from its own timer. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_WT_ERROR (confab_wt_error_quark ())

typedef enum
{
  CONFAB_WT_ERROR_CONNECT,     /* could not reach the server or finish the handshake */
  CONFAB_WT_ERROR_REFUSED,     /* the server answered the CONNECT with a non-2xx status */
  CONFAB_WT_ERROR_CLOSED,      /* the peer closed the session with a non-zero code */
  CONFAB_WT_ERROR_PROTOCOL,    /* the peer broke QUIC, HTTP/3 or WebTransport rules */
  CONFAB_WT_ERROR_TIMEOUT,     /* the QUIC idle timeout or handshake timeout fired */
  CONFAB_WT_ERROR_CERTIFICATE, /* the server certificate failed verification or pinning */
  CONFAB_WT_ERROR_INVALID,     /* a bad URL or argument */
} ConfabWtError;

GQuark confab_wt_error_quark (void);

/* Largest message on one stream (PROTOCOL.md §1) and largest datagram. */
#define CONFAB_WT_MAX_MESSAGE_SIZE  (4000000)
#define CONFAB_WT_MAX_DATAGRAM_SIZE (1200)

#define CONFAB_TYPE_WT_SESSION (confab_wt_session_get_type ())
G_DECLARE_FINAL_TYPE (ConfabWtSession, confab_wt_session, CONFAB, WT_SESSION, GObject)

/* Signals:
 *   "ready"  ()                                  the CONNECT was accepted (both sides)
 *   "draining" ()                                the peer asks us to wind down (GOAWAY or
 *                                                DRAIN_WEBTRANSPORT_SESSION); still open
 *   "packet" (GBytes *message, gboolean datagram) one whole message
 *   "closed" (const GError *error)               once; NULL error = clean close (code 0)
 */

/* The :path of the CONNECT, e.g. "/lobby/alice/room1". */
const char *confab_wt_session_get_path (ConfabWtSession *self);
/* The CONNECT stream id (the WebTransport session id on the wire). */
guint64 confab_wt_session_get_id (ConfabWtSession *self);
gboolean confab_wt_session_is_open (ConfabWtSession *self);
/* "ip:port" (or "[ip]:port") of the other side for log lines; NULL once the
 * connection is gone. */
char *confab_wt_session_dup_peer_address (ConfabWtSession *self);
/* Client side: the HTTP status the server answered (0 before the answer). */
guint confab_wt_session_get_status (ConfabWtSession *self);
/* The peer's CLOSE_WEBTRANSPORT_SESSION code and reason, once closed. */
guint32 confab_wt_session_get_close_code (ConfabWtSession *self);
const char *confab_wt_session_get_close_reason (ConfabWtSession *self);

/* Opens a new unidirectional stream, writes the whole message and FIN.
 * FALSE when the session is not open, the message is larger than
 * CONFAB_WT_MAX_MESSAGE_SIZE or the bounded send queue is full. */
gboolean confab_wt_session_send_stream (ConfabWtSession *self, GBytes *message);
/* Sends one datagram (unreliable). FALSE when not open, empty (ngtcp2 0.12
 * aborts on an empty datagram: send an empty message with
 * confab_wt_session_send_stream()), larger than
 * confab_wt_session_get_max_datagram_size() or the queue is full. */
gboolean confab_wt_session_send_datagram (ConfabWtSession *self, GBytes *message);
/* What fits in one datagram on this path now (<= CONFAB_WT_MAX_DATAGRAM_SIZE). */
gsize confab_wt_session_get_max_datagram_size (ConfabWtSession *self);
/* Sends CLOSE_WEBTRANSPORT_SESSION and ends the session; "closed" follows
 * with a NULL error unless it was already closed. A client session then keeps
 * its connection (even if the caller drops its reference) until the capsule,
 * FIN and CONNECTION_CLOSE are on the wire, at most 1 s. */
void confab_wt_session_close (ConfabWtSession *self, guint32 code, const char *reason);
/* Asks the peer to wind down (GOAWAY + DRAIN_WEBTRANSPORT_SESSION) while the
 * session keeps working: a relay about to restart tells clients to move. */
void confab_wt_session_drain (ConfabWtSession *self);
gboolean confab_wt_session_is_draining (ConfabWtSession *self);

/* Counters for tests and benchmarks. */
typedef struct
{
  guint64 messages_sent;
  guint64 messages_received;
  guint64 datagrams_sent;
  guint64 datagrams_received;
  guint64 datagrams_dropped; /* refused by the queue or by QUIC */
  guint64 bytes_sent;
  guint64 bytes_received;
} ConfabWtStats;

void confab_wt_session_get_stats (ConfabWtSession *self, ConfabWtStats *stats);

G_END_DECLS
