/* confab-wt-transport.h: a ConfabTransport over one WebTransport session
 * (https://host:port/path) to a relay: each packet on its own
 * unidirectional stream, datagrams on request (PROTOCOL.md §1). */
#pragma once

#include "confab-transport.h"
#include "confab-wt-client.h"

G_BEGIN_DECLS

#define CONFAB_TYPE_WT_TRANSPORT (confab_wt_transport_get_type ())
G_DECLARE_FINAL_TYPE (ConfabWtTransport, confab_wt_transport, CONFAB, WT_TRANSPORT, ConfabTransport)

/* @url: https://host[:port]/path[?query]. @cert_hash: base64 SHA-256 of the
 * relay's DER certificate (self-signed relays), or NULL for full
 * verification; @insecure accepts any certificate. Only checks the URL's
 * shape; connecting starts with confab_transport_open(). */
ConfabTransport *
confab_wt_transport_new (const char *url, const char *cert_hash, gboolean insecure, GError **error);

const char *confab_wt_transport_get_url (ConfabWtTransport *self);
/* Sends one packet as a datagram when it fits (RTT probes, small control
 * packets); FALSE when it does not fit, is empty (send that one with
 * confab_transport_send()) or the session is not open. */
gboolean confab_wt_transport_send_datagram (ConfabWtTransport *self, GBytes *packet);
/* The session while open (NULL otherwise), e.g. for its counters. */
ConfabWtSession *confab_wt_transport_get_session (ConfabWtTransport *self);

G_END_DECLS
