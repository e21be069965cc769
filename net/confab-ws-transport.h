/* confab-ws-transport.h: a ConfabTransport over one WebSocket (ws:// or wss://)
 * to a relay, driven by libwebsockets on the GLib main loop. Besides
 * ConfabTransport's signals: "draining" () just before "closed" when the
 * relay closed with 1001 (going away): reconnect now, no backoff. */
#pragma once

#include "confab-transport.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_WS_TRANSPORT (confab_ws_transport_get_type ())
G_DECLARE_FINAL_TYPE (ConfabWsTransport, confab_ws_transport, CONFAB, WS_TRANSPORT, ConfabTransport)

/* @url: ws[s]://host[:port]/path[?query], e.g. ws://127.0.0.1:8080/lobby/alice/standup.
 * Only checks the URL's shape; connecting starts with confab_transport_open(). */
ConfabTransport *confab_ws_transport_new (const char *url, GError **error);

const char *confab_ws_transport_get_url (ConfabWsTransport *self);
/* Packets dropped because the bounded send queue was full. */
guint64 confab_ws_transport_get_dropped (ConfabWsTransport *self);

G_END_DECLS
