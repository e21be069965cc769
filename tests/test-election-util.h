/* test-election-util.h: what the election tests run against. A real
 * confab-relay whose log lines are kept with their arrival times (so a test
 * can see sessions connect, activate and leave, and restart it on the same
 * port), and MockWtRelay, a WebTransport stand-in for the relay whose timing
 * a test controls (a late SESSION_ASSIGNED, unanswered probes, a session cut
 * on demand): it answers /lobby/… with SESSION_ASSIGNED,
 * echoes RTT probes on the path they came (datagram or stream) and records
 * what else arrives. Nothing else of a relay. */
#pragma once

#include "confab-wt-server.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct
{
  GSubprocess *process;
  guint16 port;
  char *ws_base;    /* ws://127.0.0.1:PORT */
  GPtrArray *lines; /* char*: stderr lines */
  GArray *line_us;  /* gint64: monotonic arrival of each line */
  GCancellable *cancellable;
  /* Set once the process has exited after logged_relay_terminate(). */
  gboolean exited;
  gint64 exit_us;
  int exit_status; /* -1 when it died of a signal */
} LoggedRelay;

/* confab-relay on @port (0 = a free one) with WebTransport off unless
 * @extra_args (NULL-terminated, may be NULL) say --wt-port; g_assert()s that
 * it listens. */
LoggedRelay *logged_relay_start (guint16 port, const char *const *extra_args);
/* SIGKILL (@kill) or SIGTERM, waits (bounded) for the exit. The log stays. */
void logged_relay_stop_process (LoggedRelay *relay, gboolean kill);
/* Sends SIGTERM and returns at once; ->exited, ->exit_us and ->exit_status
 * are filled from the main loop when the relay exits. */
void logged_relay_terminate (LoggedRelay *relay);
void logged_relay_free (LoggedRelay *relay);
/* Monotonic µs of the first log line at or after @since_us containing both
 * @word and @room (e.g. "activate", "room=r1 "), or 0. */
gint64 logged_relay_find (LoggedRelay *relay, const char *word, const char *room, gint64 since_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LoggedRelay, logged_relay_free)

/* The certificate hash the relay logs at start (the one /config.js
 * publishes, for --cert-hash), or NULL; waits up to 3 s for the line. */
char *logged_relay_cert_hash (LoggedRelay *relay);

/* A mock origin: serves /config.js (with these wsUrl, webTransportHost and
 * hash, each may be a comma-separated list) on a free loopback port, and
 * nothing else. */
typedef struct
{
  GSocketService *service;
  guint16 port;
  char *body;
  guint requests;
} MockOrigin;

MockOrigin *mock_origin_new (const char *ws_url, const char *wt_hosts, const char *hash);
void mock_origin_free (MockOrigin *origin);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockOrigin, mock_origin_free)

typedef struct
{
  ConfabWtSession *session;
  guint64 id;
  gint64 ready_us;
  gint64 first_non_rtt_us; /* activation, as the relay would see it; 0 = none */
  guint rtt_echoed;
  guint non_rtt;
  gboolean closed;
} MockWtSession;

typedef struct
{
  ConfabWtServer *server;
  char *hash;            /* base64 SHA-256 of its certificate */
  char *base;            /* https://127.0.0.1:PORT */
  guint assign_delay_ms; /* SESSION_ASSIGNED this long after the CONNECT */
  gboolean echo;         /* echo RTT probes (default TRUE) */
  gboolean garbage;      /* junk and lying packets before SESSION_ASSIGNED */
  GPtrArray *sessions;   /* MockWtSession* */
  GPtrArray *timers;     /* GSource*: pending SESSION_ASSIGNED */
} MockWtRelay;

MockWtRelay *mock_wt_relay_new (void);
void mock_wt_relay_free (MockWtRelay *mock);
/* The latest session whose CONNECT path contains @needle, or NULL. */
MockWtSession *mock_wt_relay_find (MockWtRelay *mock, const char *needle);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockWtRelay, mock_wt_relay_free)

/* A UDP port on 127.0.0.1 that nothing listens on (ICMP answers). */
guint16 unused_udp_port (void);
/* A UDP socket that is bound but never read: datagrams vanish as behind a
 * firewall that drops UDP. Close it with g_object_unref(). */
GSocket *udp_black_hole (guint16 *port);

/* Spins the default main context until @pred (@data) or @timeout_ms. */
gboolean wait_for (gboolean (*pred) (gpointer), gpointer data, guint timeout_ms);
/* Spins the default main context for @ms. */
void run_for (guint ms);
/* Upper bounds on measured times are multiplied by this: 10 under
 * `meson test --setup=valgrind` (CONFAB_UNDER_VALGRIND), else 1. */
double time_scale (void);

/* The peer of a confab-cli JSON summary whose session_id is @session_id, or NULL. */
JsonObject *peer_with_session (JsonObject *summary, guint64 session_id);

G_END_DECLS
