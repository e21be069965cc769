/* confab-test-ws.h: a tiny RFC 6455 client for the relay tests, on a plain
 * blocking socket. It is deliberately not lws: the tests need to do what a
 * well-behaved client library refuses to do (send garbage frames, split a
 * message at will, never answer a ping, stop reading with a tiny receive
 * buffer) and to see the HTTP status of a refused upgrade. */
#pragma once

#include <glib.h>

#include "confab-packet.h"

G_BEGIN_DECLS

typedef struct
{
  int fd;
  guint status;     /* HTTP status of the upgrade (101 when accepted) */
  GByteArray *in;   /* received, not yet parsed */
  GByteArray *frag; /* a fragmented message being reassembled */
  gboolean closed;  /* close frame or EOF seen */
  guint close_code; /* from the close frame, 0 if none */
  guint pings;      /* pings seen */
  gboolean auto_pong;
  guint64 session_id; /* from SESSION_ASSIGNED, when read by confab_test_ws_join() */
} ConfabTestWs;

/* Connects and upgrades @path on 127.0.0.1:@port. Always returns a client;
 * check ->status. @rcvbuf: SO_RCVBUF to set before connecting (0 for default). */
ConfabTestWs *confab_test_ws_connect_full (guint16 port, const char *path, int rcvbuf);
ConfabTestWs *confab_test_ws_connect (guint16 port, const char *path);
/* Connects to /lobby/@user/@room, asserts 101, reads SESSION_ASSIGNED and
 * MEETING_STARTED (asserting their order) and fills ->session_id. */
ConfabTestWs *confab_test_ws_join (guint16 port, const char *user, const char *room);
void confab_test_ws_free (ConfabTestWs *ws);

/* One frame with any opcode; client frames are masked as RFC 6455 wants. */
gboolean confab_test_ws_send_frame (
    ConfabTestWs *ws, guint opcode, gboolean fin, const void *data, gsize len);
gboolean confab_test_ws_send (ConfabTestWs *ws, const void *data, gsize len);
gboolean confab_test_ws_send_bytes (ConfabTestWs *ws, GBytes *bytes);
/* One binary message split into @pieces frames. */
gboolean
confab_test_ws_send_fragmented (ConfabTestWs *ws, const void *data, gsize len, guint pieces);

/* The next binary message, or NULL after @timeout_ms or when closed. */
GBytes *confab_test_ws_recv (ConfabTestWs *ws, guint timeout_ms);
/* The next message parsed as a PacketWrapper (NULL if none or unparseable);
 * free with confab__packet_wrapper__free_unpacked (p, NULL). */
ConfabPacketWrapper *confab_test_ws_recv_packet (ConfabTestWs *ws, guint timeout_ms);
/* Reads until the connection closes; TRUE if it did within @timeout_ms. */
gboolean confab_test_ws_wait_closed (ConfabTestWs *ws, guint timeout_ms);

/* A plain HTTP GET; returns the body and sets @status (0 on failure). */
char *confab_test_http_get (guint16 port, const char *path, guint *status);

/* Packet builders. */
GBytes *confab_test_media_packet (int media_type,
                                  const char *user,
                                  const char *payload,
                                  guint64 session_id);
GBytes *
confab_test_packet (int packet_type, const char *user, const char *payload, guint64 session_id);

/* Reading what the relay sent (packets from confab_test_ws_recv_packet). */
void confab_test_packet_free (gpointer packet);
/* The inner message of a MEDIA / MEETING packet, or NULL (free_unpacked it). */
ConfabMediaPacket *confab_test_media_of (const ConfabPacketWrapper *p);
ConfabMeetingPacket *confab_test_meeting_of (const ConfabPacketWrapper *p);

/* A marker is a VIDEO packet whose data is a tag: it proves delivery (and,
 * sent last, that everything before it was forwarded or dropped). */
gboolean confab_test_is_marker (const ConfabPacketWrapper *p, const char *tag);
void confab_test_ws_send_marker (ConfabTestWs *ws, const char *user, const char *tag);
/* Sends a heartbeat: the first non-RTT packet makes a session active. */
void confab_test_ws_activate (ConfabTestWs *ws, const char *user);
/* Waits for a MEETING packet of @event about @user (NULL: any), sent by the
 * system identity; returns it or NULL after @timeout_ms. */
ConfabMeetingPacket *
confab_test_ws_wait_meeting (ConfabTestWs *ws, int event, const char *user, guint timeout_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabTestWs, confab_test_ws_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabPacketWrapper, confab_test_packet_free)

G_END_DECLS
