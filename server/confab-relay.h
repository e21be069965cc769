/* confab-relay.h: the WebSocket relay of PROTOCOL.md §3-§4, living on the GLib
 * main loop. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *listen_address; /* NULL or "0.0.0.0": every address */
  guint16 ws_port;
  guint16 wt_port;      /* WebTransport (UDP); 0: none */
  gboolean wt_optional; /* the default port: busy means WebSocket only, not an error */
  char *cert_file;      /* NULL: a generated certificate for WebTransport, plain ws:// */
  char *key_file;
  char *nats_url; /* NULL: in-process room bus */
  char *server_id;
  char *region;
  GBytes *jwt_secret; /* NULL: /lobby?token= is refused */
  guint idle_timeout_ms;
  guint ping_interval_ms;
  guint leave_grace_ms;
  /* Streams (received + sent) one WebTransport session carries before the
   * relay asks its client to move to a fresh one (docs/webtransport.md,
   * "Known limits"); 0: no limit. */
  guint64 wt_stream_budget;
  guint wt_retire_grace_ms; /* then a session that did not move is closed */
} ConfabRelayConfig;

typedef struct _ConfabRelay ConfabRelay;

#define CONFAB_RELAY_ERROR (confab_relay_error_quark ())
typedef enum
{
  CONFAB_RELAY_ERROR_LISTEN,
  CONFAB_RELAY_ERROR_BUS,
} ConfabRelayError;

GQuark confab_relay_error_quark (void);

/* Starts listening at once; serves from the default GMainContext driven by @loop. */
ConfabRelay *confab_relay_new (const ConfabRelayConfig *config, GMainLoop *loop, GError **error);
/* Graceful shutdown (SIGTERM/SIGINT): admits no new session (503), asks
 * every client to move now (WebTransport: HTTP/3 GOAWAY and
 * DRAIN_WEBTRANSPORT_SESSION; WebSocket: close 1001 "going away"), and calls
 * @done once every session is gone (with NATS, also every pending
 * PARTICIPANT_LEFT settled, so a client that moved to another relay is not
 * announced as gone) or after @timeout_ms, whichever comes first. Then free
 * the relay: what is still connected is closed, and pending leaves are
 * announced at once. */
void confab_relay_drain (ConfabRelay *relay, guint timeout_ms, GSourceFunc done, gpointer data);
void confab_relay_free (ConfabRelay *relay);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabRelay, confab_relay_free)

G_END_DECLS
