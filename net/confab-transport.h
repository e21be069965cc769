/* confab-transport.h: the abstract path one client uses to reach a relay. The
 * call layer talks to a ConfabTransport only; WebSocket is one subclass, and
 * WebTransport (issue 3) will be another, elected at run time. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CONFAB_TRANSPORT_ERROR (confab_transport_error_quark ())

typedef enum
{
  CONFAB_TRANSPORT_ERROR_CONNECT,  /* could not reach or upgrade to the relay */
  CONFAB_TRANSPORT_ERROR_REFUSED,  /* the relay answered but refused the session (HTTP 4xx) */
  CONFAB_TRANSPORT_ERROR_CLOSED,   /* the relay or the network ended an open session */
  CONFAB_TRANSPORT_ERROR_PROTOCOL, /* the peer broke the framing rules (e.g. oversized message) */
  CONFAB_TRANSPORT_ERROR_INVALID,  /* a bad URL or argument */
} ConfabTransportError;

GQuark confab_transport_error_quark (void);

#define CONFAB_TYPE_TRANSPORT (confab_transport_get_type ())
G_DECLARE_DERIVABLE_TYPE (ConfabTransport, confab_transport, CONFAB, TRANSPORT, GObject)

struct _ConfabTransportClass
{
  GObjectClass parent_class;

  /* Starts connecting; "connected" or "closed" follows on the thread-default
   * main context the transport was created on. */
  void (*open) (ConfabTransport *self);
  /* Queues one whole PacketWrapper. Returns FALSE when the packet was dropped
   * (not open, or the bounded send queue is full). Never blocks. */
  gboolean (*send) (ConfabTransport *self, GBytes *packet);
  /* Closes politely; "closed" (with a NULL error) follows unless already closed. */
  void (*close) (ConfabTransport *self);

  gpointer padding[8];
};

void confab_transport_open (ConfabTransport *self);
gboolean confab_transport_send (ConfabTransport *self, GBytes *packet);
void confab_transport_close (ConfabTransport *self);

/* "websocket" or "webtransport": what the JSON summary and HEALTH report. */
const char *confab_transport_get_kind (ConfabTransport *self);
gboolean confab_transport_is_open (ConfabTransport *self);
gboolean confab_transport_is_closed (ConfabTransport *self);

/* For subclasses: each emits its signal once per state change. */
void confab_transport_emit_connected (ConfabTransport *self);
void confab_transport_emit_packet (ConfabTransport *self, GBytes *packet);
void confab_transport_emit_closed (ConfabTransport *self, const GError *error);
/* For subclasses whose path changes at run time (ConfabElection): the kind
 * follows the path that carries the call now; notifies "kind". */
void confab_transport_set_kind (ConfabTransport *self, const char *kind);

G_END_DECLS
