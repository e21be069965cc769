/* confab-relay-private.h: the relay's state shared by its parts: the lws
 * protocol (confab-relay.c), one client's session (confab-relay-session.c),
 * rooms and delivery (confab-relay-room.c) and the plain HTTP endpoints
 * (confab-relay-http.c). */
#pragma once

#include <glib.h>
#include <libwebsockets.h>

#include "confab-packet.h"
#include "confab-relay.h"
#include "confab-relay-buf.h"
#include "confab-room-bus.h"
#include "confab-wt-server.h"

G_BEGIN_DECLS

/* PROTOCOL.md §4.6: upstream's per-session outbound queue length. */
#define CONFAB_RELAY_QUEUE_LENGTH 256
/* One coalesced write carries at most this much. */
#define CONFAB_RELAY_COALESCE_BYTES (64 * 1024)
/* PROTOCOL.md §4.3 */
#define CONFAB_RELAY_KEYFRAME_REQUESTS_PER_SECOND 2
/* PROTOCOL.md §4.6 */
#define CONFAB_RELAY_CONGESTION_DROPS 5
/* Reassembly buffers above this are released after use, so idle sessions that
 * once sent a big frame do not pin megabytes. */
#define CONFAB_RELAY_RX_KEEP_BYTES (64 * 1024)

typedef struct _ConfabRoom ConfabRoom;

/* A session another relay told us about. */
typedef struct
{
  char *user_id;
  gint64 since_us; /* when we learned about it */
} ConfabRemoteMember;
typedef struct _ConfabRelaySession ConfabRelaySession;

struct _ConfabRelay
{
  ConfabRelayConfig config;
  struct lws_context *context;
  ConfabRoomBus *bus;
  GHashTable *rooms; /* name -> ConfabRoom */
  GQueue sessions;   /* every session, linked by relay_link */
  GQueue dirty;      /* sessions with queued output to flush, by dirty_link */
  guint flush_source;
  GSource *uv_source; /* the libuv loop lws runs on, as one GSource */
  ConfabArena *arena; /* one inbound packet at a time */
  guint8 *scratch;    /* LWS_PRE + CONFAB_RELAY_COALESCE_BYTES */
  guint tick_source;
  gint64 last_ping_us;
  /* health.diagnostics.{region}.{service}.{server_id}, indexed by
   * ConfabRelayPathKind: HEALTH is published under the path it came by. */
  char *health_subjects[2];

  /* Graceful shutdown (confab_relay_drain). */
  gboolean draining;
  GSourceFunc drain_done;
  gpointer drain_data;
  guint drain_timer;
  guint drain_check;

  /* WebTransport (confab-relay-wt.c); NULL with --wt-port 0. */
  ConfabWtServer *wt_server;
  char *wt_cert_hash; /* base64 SHA-256 of the certificate, for /config.js */
};

/* A user whose last session left; PARTICIPANT_LEFT is announced when the
 * grace period ends unless the user is back first (docs/relay.md, presence). */
typedef struct
{
  ConfabRoom *room;
  char *user_id;
  char *display_name;
  guint64 session_id;
  gint64 active_since_us; /* when the session that left became active */
  guint timer;
} ConfabPendingLeave;

struct _ConfabRoom
{
  ConfabRelay *relay;
  char *name;
  GQueue sessions;            /* local sessions, linked by room_link */
  guint member_count;         /* local active, non-observer sessions */
  GHashTable *pending_leaves; /* user id -> ConfabPendingLeave */
  /* Sessions other relays have active here: session id (guint64 *) ->
   * ConfabRemoteMember */
  GHashTable *remote_members;
  guint64 start_time_ms;
  char *creator_id;
};

/* How a session reaches its client. Everything else (classification,
 * rooms, stamping, limits, congestion, grace, NATS) is shared. */
typedef enum
{
  CONFAB_RELAY_PATH_WEBSOCKET,
  CONFAB_RELAY_PATH_WEBTRANSPORT,
} ConfabRelayPathKind;

/* How one queued packet leaves on WebTransport (PROTOCOL.md §4.6). */
typedef enum
{
  CONFAB_RELAY_ROUTE_AUTO,     /* MEDIA on a stream, small others as datagrams */
  CONFAB_RELAY_ROUTE_DATAGRAM, /* an RTT echo of a datagram probe */
  CONFAB_RELAY_ROUTE_STREAM,   /* an RTT echo of a stream probe */
} ConfabRelayRoute;

typedef struct
{
  gint64 window_start_us;
  guint drops;
  gint64 last_congestion_us;
} ConfabDropCounter;

struct _ConfabRelaySession
{
  ConfabRelay *relay;
  ConfabRoom *room;
  ConfabRelayPathKind path;
  struct lws *wsi;     /* WebSocket */
  ConfabWtSession *wt; /* WebTransport (owned) */
  GList room_link;
  GList relay_link;
  GList dirty_link;
  gboolean dirty;

  guint64 id;
  char *user_id;
  char *display_name;
  gboolean observer;
  gboolean active;
  gint64 active_since_us;
  gboolean killing;
  gboolean going_away; /* WebSocket: close 1001 at the next writeable */
  /* Set when this session took over a pending leave of the same user. */
  ConfabPendingLeave *resumed;

  /* Inbound: reassembly of fragmented messages, bounded by the packet cap. */
  guint8 *rx_buf;
  gsize rx_len;
  gsize rx_alloc;
  gboolean rx_text;
  gboolean rx_datagram; /* the packet being processed came as a datagram */
  gint64 last_rx_us;
  gint64 keyframe_window_us;
  guint keyframe_count;

  /* Outbound: bounded ring of shared buffers. */
  ConfabRelayBuf *ring[CONFAB_RELAY_QUEUE_LENGTH];
  guint8 ring_route[CONFAB_RELAY_QUEUE_LENGTH]; /* ConfabRelayRoute, WebTransport only */
  guint ring_head;
  guint ring_count;
  gboolean write_requested;
  gboolean ping_pending;
  GHashTable *drop_counters; /* sender session id (guint64 *) -> ConfabDropCounter */
  guint64 dropped;
  /* WebTransport: the connection's send queue was full; retried by a timer. */
  guint wt_retry_source;
  gint64 wt_stalled_since_us;
  /* Streams carried so far, and the bound on the client's move once that
   * reached the stream budget (confab-relay-wt.c). */
  guint64 wt_streams;
  gboolean wt_retiring;
  guint wt_retire_source;
};

/* What a WebSocket upgrade asked for, from /lobby/{user}/{room} or a token. */
typedef struct
{
  char *user_id;
  char *room;
  char *display_name;
  gboolean observer;
} ConfabLobbyRequest;

void confab_lobby_request_clear (ConfabLobbyRequest *request);
/* Returns 0 when the upgrade may go on, else the HTTP status to refuse it with. */
guint confab_relay_parse_lobby (ConfabRelay *relay, struct lws *wsi, ConfabLobbyRequest *out);
/* The same rules for a decoded path without query and the token argument
 * (NULL when absent). */
guint confab_relay_parse_lobby_uri (ConfabRelay *relay,
                                    const char *uri,
                                    const char *token,
                                    ConfabLobbyRequest *out);

/* lws per-connection storage: HTTP responses or the WebSocket session. */
typedef struct
{
  ConfabRelaySession *session;
  char *http_body;
  gsize http_body_len;
} ConfabRelayConn;

/* confab-relay-http.c: returns what the protocol callback should return. */
int confab_relay_http_request (ConfabRelay *relay, struct lws *wsi, ConfabRelayConn *conn);
int confab_relay_http_writeable (ConfabRelay *relay, struct lws *wsi, ConfabRelayConn *conn);

/* confab-relay-room.c */
ConfabRoom *confab_room_get (ConfabRelay *relay, const char *name, const char *creator_id);
void confab_room_maybe_free (ConfabRoom *room);
void confab_room_free (ConfabRoom *room);
void confab_room_session_activated (ConfabRoom *room, ConfabRelaySession *session);
void confab_room_session_closed (ConfabRoom *room, ConfabRelaySession *session);
/* Shutdown: every pending leave is settled now (announced, or retired
 * silently when the user is present elsewhere), because this relay will not
 * be there when the grace period ends. */
void confab_room_flush_pending_leaves (ConfabRoom *room);
ConfabPendingLeave *confab_room_take_pending_leave (ConfabRoom *room, const char *user_id);
void confab_room_deliver (const char *room_name,
                          ConfabRoomBusKind kind,
                          guint64 session_id,
                          ConfabRelayBuf *buf,
                          gboolean remote,
                          gpointer user_data);
ConfabRelayBuf *confab_room_meeting_packet (ConfabRoom *room,
                                            int event_type,
                                            const char *user_id,
                                            const char *display_name,
                                            guint64 session_id);

/* confab-relay-session.c */
ConfabRelaySession *
confab_relay_session_new (ConfabRelay *relay, struct lws *wsi, ConfabLobbyRequest *request);
ConfabRelaySession *
confab_relay_session_new_wt (ConfabRelay *relay, ConfabWtSession *wt, ConfabLobbyRequest *request);
void confab_relay_session_free (ConfabRelaySession *session);
/* One whole inbound packet (WebTransport delivers them whole). */
void confab_relay_session_process (ConfabRelaySession *session,
                                   const guint8 *data,
                                   gsize len,
                                   gboolean datagram);
int confab_relay_session_receive (ConfabRelaySession *session, const guint8 *in, gsize len);
int confab_relay_session_writeable (ConfabRelaySession *session);
/* Queues @buf for the session; when the queue is full the packet is dropped
 * and, if @sender is not 0, counted towards CONGESTION for that sender. */
void
confab_relay_session_enqueue (ConfabRelaySession *session, ConfabRelayBuf *buf, guint64 sender);
void confab_relay_session_tick (ConfabRelaySession *session, gint64 now_us, gboolean ping);
/* Shutdown: asks the client to move (GOAWAY + drain capsule, or close 1001). */
void confab_relay_session_go_away (ConfabRelaySession *session);

/* confab-relay.c: while draining, something that may end the drain happened
 * (a session or a pending leave went away). */
void confab_relay_drain_progress (ConfabRelay *relay);
/* Writes what the relay's dirty sessions have queued (see confab-relay-session.c). */
gboolean confab_relay_flush (gpointer relay);

/* confab-relay-wt.c: the WebTransport listener and path. */
gboolean confab_relay_wt_start (ConfabRelay *relay, GError **error);
void confab_relay_wt_stop (ConfabRelay *relay);
/* Hands queued packets to the WebTransport connection (PROTOCOL.md §4.6). */
void confab_relay_wt_write (ConfabRelaySession *session);
/* Ends the session; it may be freed before this returns. */
void confab_relay_wt_kill (ConfabRelaySession *session, guint32 code, const char *reason);

G_END_DECLS
