/* confab-election.h: the transport a call holds when a relay can be reached
 * more than one way (PROTOCOL.md §5). It opens every candidate path
 * (WebTransport and WebSocket) at once, lets the first one to deliver
 * SESSION_ASSIGNED carry the call immediately, measures every path with RTT
 * probes during the election window, then keeps the winner (WebTransport
 * over WebSocket, lowest RTT among equals) and closes the rest. When the
 * carrying path dies it moves to another live path, or re-runs the election
 * after a backoff, for as long as the call lasts. A relay that says it is
 * going away (HTTP/3 GOAWAY or DRAIN_WEBTRANSPORT_SESSION, WebSocket close
 * 1001) is left at once: a draining WebTransport carrier keeps carrying
 * while a new round starts, and the first new path with a session takes
 * over; a WebSocket one is retried without backoff. ConfabCall cannot tell it
 * from a single path: it is a ConfabTransport whose "kind" follows the path
 * that carries the call. */
#pragma once

#include "confab-transport.h"

G_BEGIN_DECLS

#define CONFAB_ELECTION_WINDOW_MS      2000
#define CONFAB_ELECTION_EXTENSION_MS   1000
#define CONFAB_ELECTION_MAX_EXTENSIONS 2
#define CONFAB_ELECTION_PROBE_MS       200

typedef struct
{
  /* WebTransport certificate: base64 SHA-256 pin, or @insecure, or neither
   * for full verification. */
  const char *cert_hash;
  gboolean insecure;
  /* Election window; 0 = CONFAB_ELECTION_WINDOW_MS (tests shorten it). */
  guint window_ms;
} ConfabElectionOptions;

#define CONFAB_TYPE_ELECTION (confab_election_get_type ())
G_DECLARE_FINAL_TYPE (ConfabElection, confab_election, CONFAB, ELECTION, ConfabTransport)

/* @urls: NULL-terminated lobby URLs, each https:// (WebTransport) or
 * ws[s]:// (WebSocket), in order of preference among equals. @user_id goes
 * into the RTT probes. Checks every URL's shape; nothing connects before
 * confab_transport_open().
 *
 * Signals (besides ConfabTransport's):
 *   "elected"      ()                        the window closed; "kind" is the winner
 *   "reconnecting" (guint attempt, guint ms) the carrying path died; next try in ms
 *   "resumed"      ()                        a new path carries the call again
 * "closed" with an error only when no path ever carried the call (the join
 * failed); once in the call, lost paths are retried until closed. */
ConfabTransport *confab_election_new (const char *const *urls,
                                      const char *user_id,
                                      const ConfabElectionOptions *options,
                                      GError **error);

/* Monotonic µs of confab_transport_open(), and of SESSION_ASSIGNED on the
 * path that carried the call after the first election (0 before). */
gint64 confab_election_get_start_us (ConfabElection *self);
gint64 confab_election_get_join_us (ConfabElection *self);
/* Times the call moved to a new session because its path died. */
guint confab_election_get_reconnects (ConfabElection *self);
/* The URL of the path carrying the call, or NULL while there is none. */
const char *confab_election_get_carrier_url (ConfabElection *self);
/* Paths open or still connecting (the carrier included): 1 once settled. */
guint confab_election_get_n_paths (ConfabElection *self);
gboolean confab_election_is_settled (ConfabElection *self);
/* Mean RTT of the carrying path during the election, or -1. */
double confab_election_get_carrier_rtt_ms (ConfabElection *self);

/* PROTOCOL.md §5 reconnect backoff for @attempt (1-based): 500 ms doubling,
 * capped at 2 s for attempts 1–5, 10 s for 6–15 and 30 s after, then scaled
 * by 0.75 + 0.25 × @jitter (@jitter in [0, 1], clamped), so clients that lost
 * the same relay spread out and the cap still holds. */
guint confab_election_backoff_ms (guint attempt, double jitter);

G_END_DECLS
