/* test-election.c: ConfabElection under a ConfabCall, against the real
 * confab-relay (WebSocket) and MockWtRelay (WebTransport whose timing and
 * echoes the test controls): WebTransport preferred, the call carried by the first path at
 * once and switched to the winner, losers closed, WebSocket within 1 s when
 * UDP goes nowhere, takeover and reconnect when the carrying path dies, and
 * the backoff schedule exactly. */
#define G_LOG_DOMAIN "test-election"

#include "confab-call.h"
#include "confab-election.h"
#include "confab-wt-session.h"
#include "confab-test-util.h"
#include "test-election-util.h"

#include <math.h>
#include <string.h>

/* ---- backoff: a pure function, exactly ------------------------------------------------ */

static void
test_backoff (void)
{
  /* Without jitter's shortening: 500 ms doubling, capped 2 s (1–5), 10 s (6–15), 30 s. */
  static const guint full[] = { 0,     500,   1000,  2000,  2000,  2000,  10000, 10000, 10000,
                                10000, 10000, 10000, 10000, 10000, 10000, 10000, 30000, 30000 };

  for (guint attempt = 1; attempt < G_N_ELEMENTS (full); attempt++)
    {
      g_assert_cmpuint (confab_election_backoff_ms (attempt, 1.0), ==, full[attempt]);
      g_assert_cmpuint (confab_election_backoff_ms (attempt, 0.0), ==, full[attempt] * 3 / 4);
    }
  g_assert_cmpuint (confab_election_backoff_ms (1, 0.5), ==, 438); /* 437.5 rounded */
  g_assert_cmpuint (confab_election_backoff_ms (6, 0.5), ==, 8750);
  g_assert_cmpuint (confab_election_backoff_ms (100, 0.2), ==, 24000);
  g_assert_cmpuint (confab_election_backoff_ms (G_MAXUINT, 1.0), ==, 30000);
  /* Jitter out of range is clamped, never a longer wait than the cap. */
  g_assert_cmpuint (confab_election_backoff_ms (3, 7.0), ==, 2000);
  g_assert_cmpuint (confab_election_backoff_ms (3, -1.0), ==, 1500);
  g_assert_cmpuint (confab_election_backoff_ms (3, NAN), ==, 1500);
  /* Jittered delays spread out: 1000 draws of attempt 2 cover [750, 1000]. */
  {
    guint lo = G_MAXUINT, hi = 0;

    for (guint i = 0; i < 1000; i++)
      {
        guint d = confab_election_backoff_ms (2, g_random_double ());

        lo = MIN (lo, d);
        hi = MAX (hi, d);
      }
    g_assert_cmpuint (lo, >=, 750);
    g_assert_cmpuint (hi, <=, 1000);
    g_assert_cmpuint (hi - lo, >, 200);
  }
}

/* ---- a call over an election ---------------------------------------------------------- */

typedef struct
{
  ConfabTransport *transport;
  ConfabElection *election;
  ConfabCall *call;
  gint64 start_us;
  gint64 assigned_us[8]; /* each "session-assigned" */
  guint64 assigned_id[8];
  guint n_assigned;
  char *first_kind;
  gint64 elected_us;
  gboolean closed;
  GError *closed_error;
  guint reconnecting;
  guint last_attempt;
  guint last_delay_ms;
  gint64 reconnecting_us;
  guint resumed;
} CallRun;

static void
on_assigned (ConfabCall *call, guint64 id, CallRun *run)
{
  if (run->n_assigned == 0)
    run->first_kind = g_strdup (confab_transport_get_kind (run->transport));
  if (run->n_assigned < G_N_ELEMENTS (run->assigned_id))
    {
      run->assigned_us[run->n_assigned] = g_get_monotonic_time ();
      run->assigned_id[run->n_assigned] = id;
    }
  run->n_assigned++;
}

static void
on_elected (ConfabElection *election, CallRun *run)
{
  if (run->elected_us == 0)
    run->elected_us = g_get_monotonic_time ();
}

static void
on_reconnecting (ConfabElection *election, guint attempt, guint delay_ms, CallRun *run)
{
  if (run->reconnecting == 0)
    run->reconnecting_us = g_get_monotonic_time ();
  run->reconnecting++;
  run->last_attempt = attempt;
  run->last_delay_ms = delay_ms;
}

static void
on_resumed (ConfabElection *election, CallRun *run)
{
  run->resumed++;
}

static void
on_call_closed (ConfabCall *call, const GError *error, CallRun *run)
{
  run->closed = TRUE;
  if (error != NULL)
    run->closed_error = g_error_copy (error);
}

static CallRun *
call_run_start (const char *const *urls, const char *user, const char *cert_hash)
{
  g_autoptr (GError) error = NULL;
  ConfabElectionOptions options = { .cert_hash = cert_hash };
  CallRun *run = g_new0 (CallRun, 1);

  run->transport = confab_election_new (urls, user, &options, &error);
  g_assert_no_error (error);
  run->election = CONFAB_ELECTION (run->transport);
  run->call = confab_call_new (run->transport, user);
  confab_call_set_media_state (run->call, FALSE, TRUE);
  g_signal_connect (run->call, "session-assigned", G_CALLBACK (on_assigned), run);
  g_signal_connect (run->call, "closed", G_CALLBACK (on_call_closed), run);
  g_signal_connect (run->election, "elected", G_CALLBACK (on_elected), run);
  g_signal_connect (run->election, "reconnecting", G_CALLBACK (on_reconnecting), run);
  g_signal_connect (run->election, "resumed", G_CALLBACK (on_resumed), run);
  run->start_us = g_get_monotonic_time ();
  confab_call_start (run->call);
  return run;
}

static gboolean
call_closed (gpointer data)
{
  return ((CallRun *) data)->closed;
}

static void
call_run_free (CallRun *run)
{
  if (!run->closed)
    {
      confab_call_leave (run->call);
      wait_for (call_closed, run, 3000);
    }
  g_signal_handlers_disconnect_by_data (run->election, run);
  g_clear_object (&run->call);
  g_clear_object (&run->transport);
  g_clear_error (&run->closed_error);
  g_free (run->first_kind);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CallRun, call_run_free)

static gboolean
has_assigned (gpointer data)
{
  return ((CallRun *) data)->n_assigned > 0;
}

static gboolean
has_elected (gpointer data)
{
  return ((CallRun *) data)->elected_us != 0;
}

static gboolean
is_resumed (gpointer data)
{
  return ((CallRun *) data)->resumed > 0;
}

static double
ms_since (gint64 since_us, gint64 at_us)
{
  return (at_us - since_us) / 1000.0;
}

static char *
unique_room (const char *prefix)
{
  return g_strdup_printf ("%s-%08x", prefix, g_random_int ());
}

typedef struct
{
  LoggedRelay *relay;
  const char *word;
  const char *room;
  gint64 since_us;
} LogWait;

static gboolean
log_has (gpointer data)
{
  LogWait *w = data;
  return logged_relay_find (w->relay, w->word, w->room, w->since_us) != 0;
}

static gboolean
mock_closed (gpointer data)
{
  return ((MockWtSession *) data)->closed;
}

static gboolean
mock_has_session (gpointer data)
{
  return ((MockWtRelay *) data)->sessions->len > 0;
}

static gboolean
mock_ready (gpointer data)
{
  return ((MockWtSession *) data)->ready_us != 0;
}

static gboolean
mock_active (gpointer data)
{
  return ((MockWtSession *) data)->first_non_rtt_us != 0;
}

/* Both paths work: the call ends up on WebTransport with the WebTransport
 * session id, that session is active, and the WebSocket session is gone. */
static void
test_webtransport_preferred (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *room = unique_room ("pref");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *wt = g_strdup_printf ("%s/lobby/alice/%s", mock->base, room);
  g_autofree char *ws = g_strdup_printf ("%s/lobby/alice/%s", relay->ws_base, room);
  const char *urls[] = { wt, ws, NULL };
  g_autoptr (CallRun) run = call_run_start (urls, "alice", mock->hash);
  LogWait leave = { relay, "leave", room_key, 0 };
  MockWtSession *ms;

  g_assert_true (wait_for (has_assigned, run, 5000));
  g_test_message ("first SESSION_ASSIGNED after %.1f ms over %s",
                  ms_since (run->start_us, run->assigned_us[0]), run->first_kind);
  g_assert_cmpfloat (ms_since (run->start_us, run->assigned_us[0]), <, 300 * time_scale ());

  g_assert_true (wait_for (has_elected, run, 6000));
  g_test_message ("elected after %.1f ms: %s, join %.1f ms, RTT %.3f ms",
                  ms_since (run->start_us, run->elected_us),
                  confab_transport_get_kind (run->transport),
                  ms_since (run->start_us, confab_election_get_join_us (run->election)),
                  confab_election_get_carrier_rtt_ms (run->election));
  /* The window is 2 s; extensions only when no path has 2 samples. */
  g_assert_cmpfloat (ms_since (run->start_us, run->elected_us), >=, 1990);
  g_assert_cmpfloat (ms_since (run->start_us, run->elected_us), <, 2500 * time_scale ());
  g_assert_cmpstr (confab_transport_get_kind (run->transport), ==, "webtransport");
  g_assert_cmpstr (confab_election_get_carrier_url (run->election), ==, wt);
  g_assert_cmpfloat (confab_election_get_carrier_rtt_ms (run->election), >=, 0);
  ms = mock_wt_relay_find (mock, room);
  g_assert_nonnull (ms);
  g_assert_cmpuint (confab_call_get_session_id (run->call), ==, ms->id);
  g_assert_true (wait_for (mock_active, ms, 2000));
  g_assert_cmpuint (ms->rtt_echoed, >=, 2);
  /* The loser is closed: the relay lets its session go. */
  g_assert_true (wait_for (log_has, &leave, 3000));
  g_assert_cmpuint (confab_election_get_n_paths (run->election), ==, 1);
  g_assert_cmpuint (confab_election_get_reconnects (run->election), ==, 0);
  g_assert_false (run->closed);
}

/* WebTransport answers late: WebSocket carries the call at once, the call
 * moves to WebTransport when the window closes (a second SESSION_ASSIGNED
 * with the new id), and the WebTransport session saw nothing but RTT probes
 * before that. */
static void
test_switch_to_webtransport (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *room = unique_room ("switch");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *wt = g_strdup_printf ("%s/lobby/bob/%s", mock->base, room);
  g_autofree char *ws = g_strdup_printf ("%s/lobby/bob/%s", relay->ws_base, room);
  const char *urls[] = { wt, ws, NULL };
  g_autoptr (CallRun) run = NULL;
  LogWait activate = { relay, "activate", room_key, 0 };
  LogWait leave = { relay, "leave", room_key, 0 };
  MockWtSession *ms;

  mock->assign_delay_ms = 400;
  run = call_run_start (urls, "bob", mock->hash);
  g_assert_true (wait_for (has_assigned, run, 5000));
  g_test_message ("WebSocket carried after %.1f ms", ms_since (run->start_us, run->assigned_us[0]));
  g_assert_cmpstr (run->first_kind, ==, "websocket");
  g_assert_cmpfloat (ms_since (run->start_us, run->assigned_us[0]), <, 300 * time_scale ());
  /* Carrying means the relay activated the WebSocket session. */
  g_assert_true (wait_for (log_has, &activate, 2000));

  g_assert_true (wait_for (has_elected, run, 6000));
  g_assert_cmpstr (confab_transport_get_kind (run->transport), ==, "webtransport");
  g_assert_cmpuint (run->n_assigned, ==, 2);
  ms = mock_wt_relay_find (mock, room);
  g_assert_nonnull (ms);
  g_assert_cmpuint (run->assigned_id[1], ==, ms->id);
  g_assert_cmpuint (confab_call_get_session_id (run->call), ==, ms->id);
  g_assert_cmpuint (run->assigned_id[0], !=, ms->id);
  /* Only probes before the switch; then the call's heartbeat activates it. */
  g_assert_true (wait_for (mock_active, ms, 2000));
  g_assert_cmpint (ms->first_non_rtt_us, >=, run->elected_us - 1000);
  g_assert_cmpuint (ms->rtt_echoed, >=, 2);
  g_test_message ("switched %.1f ms after start, activated %.1f ms later",
                  ms_since (run->start_us, run->elected_us),
                  ms_since (run->elected_us, ms->first_non_rtt_us));
  /* join_ms names the path that carries: WebTransport's SESSION_ASSIGNED. */
  g_assert_cmpfloat (ms_since (run->start_us, confab_election_get_join_us (run->election)), >=,
                     400);
  g_assert_true (wait_for (log_has, &leave, 3000));
  g_assert_cmpuint (confab_election_get_n_paths (run->election), ==, 1);
}

/* Nothing answers on the WebTransport port (ICMP unreachable, or a black
 * hole like a firewall dropping UDP): WebSocket carries at once and wins. */
static void
websocket_fallback (gboolean black_hole)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (GSocket) hole = NULL;
  guint16 udp_port;
  g_autofree char *room = unique_room ("fallback");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *wt = NULL;
  g_autofree char *ws = g_strdup_printf ("%s/lobby/carol/%s", relay->ws_base, room);
  const char *urls[3];
  g_autoptr (CallRun) run = NULL;
  LogWait activate = { relay, "activate", room_key, 0 };

  if (black_hole)
    hole = udp_black_hole (&udp_port);
  else
    udp_port = unused_udp_port ();
  wt = g_strdup_printf ("https://127.0.0.1:%u/lobby/carol/%s", udp_port, room);
  urls[0] = wt;
  urls[1] = ws;
  urls[2] = NULL;
  run = call_run_start (urls, "carol", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  g_assert_true (wait_for (has_assigned, run, 5000));
  g_test_message ("%s: WebSocket carried after %.1f ms", black_hole ? "black hole" : "unreachable",
                  ms_since (run->start_us, run->assigned_us[0]));
  g_assert_cmpstr (run->first_kind, ==, "websocket");
  g_assert_cmpfloat (ms_since (run->start_us, run->assigned_us[0]), <, 1000 * time_scale ());
  g_assert_true (wait_for (log_has, &activate, 2000));

  g_assert_true (wait_for (has_elected, run, 6000));
  g_assert_cmpstr (confab_transport_get_kind (run->transport), ==, "websocket");
  g_assert_cmpuint (run->n_assigned, ==, 1);
  g_assert_cmpuint (confab_election_get_n_paths (run->election), ==, 1);
  g_assert_false (run->closed);
}

static void
test_websocket_fallback_unreachable (void)
{
  websocket_fallback (FALSE);
}

static void
test_websocket_fallback_black_hole (void)
{
  websocket_fallback (TRUE);
}

/* A WebTransport path whose probes never come back is not usable: the
 * WebSocket path wins and the WebTransport session is closed. */
static void
test_unanswered_webtransport_loses (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *room = unique_room ("mute");
  g_autofree char *wt = g_strdup_printf ("%s/lobby/gina/%s", mock->base, room);
  g_autofree char *ws = g_strdup_printf ("%s/lobby/gina/%s", relay->ws_base, room);
  const char *urls[] = { wt, ws, NULL };
  g_autoptr (CallRun) run = NULL;
  MockWtSession *ms;

  mock->echo = FALSE;
  run = call_run_start (urls, "gina", mock->hash);
  g_assert_true (wait_for (has_elected, run, 6000));
  g_assert_cmpstr (confab_transport_get_kind (run->transport), ==, "websocket");
  ms = mock_wt_relay_find (mock, room);
  g_assert_nonnull (ms);
  /* The loser's close reaches the relay at once (not at its idle timeout). */
  g_assert_true (wait_for (mock_closed, ms, 1000));
  g_assert_cmpuint (confab_election_get_n_paths (run->election), ==, 1);
  g_assert_cmpuint (confab_call_get_session_id (run->call), !=, ms->id);
}

/* Junk and lying packets before SESSION_ASSIGNED: the election neither
 * crashes nor takes them for a session or an RTT sample. */
static void
test_garbage (void)
{
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *room = unique_room ("junk");
  g_autofree char *wt = g_strdup_printf ("%s/lobby/jack/%s", mock->base, room);
  const char *urls[] = { wt, NULL };
  g_autoptr (CallRun) run = NULL;
  MockWtSession *ms;
  double rtt;

  mock->garbage = TRUE;
  run = call_run_start (urls, "jack", mock->hash);
  g_assert_true (wait_for (has_elected, run, 6000));
  ms = mock_wt_relay_find (mock, room);
  g_assert_nonnull (ms);
  g_assert_cmpuint (run->n_assigned, ==, 1);
  g_assert_cmpuint (confab_call_get_session_id (run->call), ==, ms->id);
  rtt = confab_election_get_carrier_rtt_ms (run->election);
  g_test_message ("RTT %.3f ms after the lies", rtt);
  g_assert_cmpfloat (rtt, >=, 0);
  g_assert_cmpfloat (rtt, <, 1000);
  g_assert_false (run->closed);
}

/* No path at all: the join fails fast with the path's error. */
static void
test_join_fails (void)
{
  g_autofree char *ws = g_strdup_printf ("ws://127.0.0.1:%u/lobby/dan/r", confab_test_free_port ());
  g_autofree char *wt = g_strdup_printf ("https://127.0.0.1:%u/lobby/dan/r", unused_udp_port ());
  const char *urls[] = { wt, ws, NULL };
  g_autoptr (CallRun) run = call_run_start (urls, "dan", NULL);

  g_assert_true (wait_for (call_closed, run, 8000));
  g_assert_error (run->closed_error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CONNECT);
  g_test_message ("join failed after %.1f ms: %s",
                  ms_since (run->start_us, g_get_monotonic_time ()), run->closed_error->message);
  g_assert_cmpuint (run->n_assigned, ==, 0);
  g_assert_cmpuint (run->reconnecting, ==, 0);
}

/* The carrying path dies inside the window while another path has a
 * session: that one takes the call over at once, no backoff. WebSocket
 * carries first (WebTransport answers after 400 ms), then the relay is
 * killed. */
static void
test_takeover_during_window (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *room = unique_room ("takeover");
  g_autofree char *wt = g_strdup_printf ("%s/lobby/erin/%s", mock->base, room);
  g_autofree char *ws = g_strdup_printf ("%s/lobby/erin/%s", relay->ws_base, room);
  const char *urls[] = { wt, ws, NULL };
  g_autoptr (CallRun) run = NULL;
  MockWtSession *ms;
  gint64 cut_us;

  mock->assign_delay_ms = 400;
  run = call_run_start (urls, "erin", mock->hash);
  g_assert_true (wait_for (has_assigned, run, 5000));
  g_assert_cmpstr (run->first_kind, ==, "websocket");
  /* WebTransport's SESSION_ASSIGNED is in, the window (2 s) still open. */
  g_assert_true (wait_for (mock_has_session, mock, 3000));
  ms = mock_wt_relay_find (mock, room);
  g_assert_nonnull (ms);
  g_assert_true (wait_for (mock_ready, ms, 3000));
  run_for (mock->assign_delay_ms + 200);
  g_assert_cmpfloat (ms_since (run->start_us, g_get_monotonic_time ()), <, 1800);
  g_assert_cmpuint (ms->first_non_rtt_us, ==, 0);

  cut_us = g_get_monotonic_time ();
  logged_relay_stop_process (relay, TRUE);
  g_assert_true (wait_for (is_resumed, run, 2000));
  g_test_message ("WebTransport took over %.1f ms after the kill",
                  ms_since (cut_us, run->assigned_us[1]));
  g_assert_cmpfloat (ms_since (cut_us, run->assigned_us[1]), <, 300 * time_scale ());
  g_assert_cmpstr (confab_transport_get_kind (run->transport), ==, "webtransport");
  g_assert_cmpuint (run->reconnecting, ==, 0);
  g_assert_cmpuint (confab_election_get_reconnects (run->election), ==, 1);
  g_assert_cmpuint (run->n_assigned, ==, 2);
  g_assert_cmpuint (confab_call_get_session_id (run->call), ==, ms->id);
  g_assert_true (wait_for (mock_active, ms, 2000));
  /* And it stays the winner when the window closes. */
  g_assert_true (wait_for (has_elected, run, 4000));
  g_assert_cmpstr (confab_transport_get_kind (run->transport), ==, "webtransport");
}

/* The relay is killed mid-call and comes back on the same port: the call
 * backs off (first wait 375–500 ms), re-runs the election, and goes on with
 * a new session that the relay activates. */
static void
test_reconnect_after_restart (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (LoggedRelay) again = NULL;
  g_autofree char *room = unique_room ("restart");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *ws = g_strdup_printf ("%s/lobby/frank/%s", relay->ws_base, room);
  const char *urls[] = { ws, NULL };
  g_autoptr (CallRun) run = call_run_start (urls, "frank", NULL);
  LogWait activate = { NULL, "activate", room_key, 0 };
  gint64 kill_us;

  g_assert_true (wait_for (has_assigned, run, 5000));
  g_assert_true (wait_for (has_elected, run, 6000));

  kill_us = g_get_monotonic_time ();
  logged_relay_stop_process (relay, TRUE);
  run_for (300);
  again = logged_relay_start (relay->port, NULL);
  activate.relay = again;
  g_assert_true (wait_for (is_resumed, run, 8000));
  g_assert_cmpuint (run->reconnecting, >=, 1);
  g_assert_cmpuint (confab_election_get_reconnects (run->election), ==, 1);
  g_assert_cmpuint (run->n_assigned, ==, 2);
  g_assert_cmpuint (run->assigned_id[1], !=, run->assigned_id[0]);
  g_assert_cmpuint (confab_call_get_session_id (run->call), ==, run->assigned_id[1]);
  g_assert_true (wait_for (log_has, &activate, 2000));
  g_test_message ("carrier lost %.1f ms after the kill; back %.1f ms after the kill "
                  "(%u attempts, last wait %u ms)",
                  ms_since (kill_us, run->reconnecting_us), ms_since (kill_us, run->assigned_us[1]),
                  run->reconnecting, run->last_delay_ms);
  g_assert_cmpfloat (ms_since (kill_us, run->assigned_us[1]), <, 3000 * time_scale ());
  g_assert_false (run->closed);
}

/* ---- a TCP proxy whose connections the test can cut ----------------------------------- */

typedef struct
{
  GSocketService *service;
  guint16 port;
  guint16 target;
  GPtrArray *streams; /* GIOStream*: both ends of every proxied connection */
} Proxy;

static void
on_spliced (GObject *source, GAsyncResult *result, gpointer data)
{
  g_io_stream_splice_finish (result, NULL);
}

static gboolean
on_proxy_incoming (GSocketService *service,
                   GSocketConnection *downstream,
                   GObject *source,
                   gpointer data)
{
  Proxy *proxy = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) upstream = NULL;

  upstream = g_socket_client_connect_to_host (client, "127.0.0.1", proxy->target, NULL, NULL);
  if (upstream == NULL)
    return TRUE;
  g_ptr_array_add (proxy->streams, g_object_ref (downstream));
  g_ptr_array_add (proxy->streams, g_object_ref (upstream));
  g_io_stream_splice_async (G_IO_STREAM (downstream), G_IO_STREAM (upstream),
                            G_IO_STREAM_SPLICE_NONE, G_PRIORITY_DEFAULT, NULL, on_spliced, NULL);
  return TRUE;
}

static Proxy *
proxy_new (guint16 target)
{
  g_autoptr (GError) error = NULL;
  Proxy *proxy = g_new0 (Proxy, 1);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = NULL;

  proxy->target = target;
  proxy->port = confab_test_free_port ();
  proxy->streams = g_ptr_array_new_with_free_func (g_object_unref);
  proxy->service = g_socket_service_new ();
  address = g_inet_socket_address_new (loopback, proxy->port);
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (proxy->service), address,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                                NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (proxy->service, "incoming", G_CALLBACK (on_proxy_incoming), proxy);
  g_socket_service_start (proxy->service);
  return proxy;
}

/* Ends every connection through the proxy at once, as a broken network
 * path would (the relay keeps running). */
static void
proxy_cut (Proxy *proxy)
{
  for (guint i = 0; i < proxy->streams->len; i++)
    g_io_stream_close (g_ptr_array_index (proxy->streams, i), NULL, NULL);
  g_ptr_array_set_size (proxy->streams, 0);
}

static void
proxy_free (Proxy *proxy)
{
  proxy_cut (proxy);
  g_socket_service_stop (proxy->service);
  g_socket_listener_close (G_SOCKET_LISTENER (proxy->service));
  g_object_unref (proxy->service);
  g_ptr_array_unref (proxy->streams);
  g_free (proxy);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Proxy, proxy_free)

typedef struct
{
  guint joined;
  guint left;
  guint64 last_joined_session;
} Watch;

static void
on_watch_joined (ConfabCall *call, ConfabPeer *peer, Watch *watch)
{
  if (g_strcmp0 (confab_peer_get_user_id (peer), "hugo") == 0 ||
      confab_peer_get_user_id (peer) == NULL || confab_peer_get_user_id (peer)[0] == '\0')
    {
      watch->joined++;
      watch->last_joined_session = confab_peer_get_session_id (peer);
    }
}

static void
on_watch_left (ConfabCall *call, ConfabPeer *peer, Watch *watch)
{
  /* A session replaced by its user's newer one is not somebody leaving. */
  if (!confab_peer_is_superseded (peer))
    watch->left++;
}

typedef struct
{
  Watch *watch;
  guint64 session_id;
} WatchFor;

static gboolean
watch_saw_session (gpointer data)
{
  WatchFor *w = data;
  return w->watch->last_joined_session == w->session_id;
}

/* The network path breaks but the relay keeps running: the client is back
 * within the relay's 2 s grace, so the others get neither LEFT nor a second
 * JOINED from the relay, and hear the new session at once. */
static void
test_reconnect_within_grace (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (Proxy) proxy = proxy_new (relay->port);
  g_autofree char *room = unique_room ("grace");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *via = g_strdup_printf ("ws://127.0.0.1:%u/lobby/hugo/%s", proxy->port, room);
  g_autofree char *direct = g_strdup_printf ("%s/lobby/iris/%s", relay->ws_base, room);
  const char *hugo_urls[] = { via, NULL };
  const char *iris_urls[] = { direct, NULL };
  g_autoptr (CallRun) iris = call_run_start (iris_urls, "iris", NULL);
  g_autoptr (CallRun) hugo = NULL;
  Watch watch = { 0 };
  WatchFor first = { &watch, 0 }, second = { &watch, 0 };
  LogWait reconnect = { relay, "(reconnect)", room_key, 0 };
  gint64 cut_us;

  g_signal_connect (iris->call, "peer-joined", G_CALLBACK (on_watch_joined), &watch);
  g_signal_connect (iris->call, "peer-left", G_CALLBACK (on_watch_left), &watch);
  g_assert_true (wait_for (has_assigned, iris, 5000));
  hugo = call_run_start (hugo_urls, "hugo", NULL);
  g_assert_true (wait_for (has_assigned, hugo, 5000));
  first.session_id = hugo->assigned_id[0];
  g_assert_true (wait_for (watch_saw_session, &first, 3000));
  g_assert_true (wait_for (has_elected, hugo, 6000));

  cut_us = g_get_monotonic_time ();
  proxy_cut (proxy);
  g_assert_true (wait_for (is_resumed, hugo, 3000));
  g_test_message ("back %.1f ms after the cut", ms_since (cut_us, hugo->assigned_us[1]));
  g_assert_cmpfloat (ms_since (cut_us, hugo->assigned_us[1]), <, 1500 * time_scale ());
  /* The relay knew it for the same person back within the grace period. */
  g_assert_true (wait_for (log_has, &reconnect, 2000));
  second.session_id = hugo->assigned_id[1];
  g_assert_true (wait_for (watch_saw_session, &second, 3000));
  /* Past the grace period: still no LEFT for the old session. */
  run_for (2500);
  g_assert_cmpuint (watch.left, ==, 0);
  g_assert_cmpuint (confab_election_get_reconnects (hugo->election), ==, 1);
  g_signal_handlers_disconnect_by_data (iris->call, &watch);
}

/* The relay says it is going away (HTTP/3 GOAWAY + DRAIN_WEBTRANSPORT_SESSION,
 * what confab-relay sends on SIGTERM): the call moves at once, with no
 * backoff and no gap: the draining session keeps carrying until a new path
 * has a session, then the client closes it. Two lobby URLs on one
 * MockWtRelay stand for two relays. */
typedef struct
{
  CallRun *run;
  guint n;
} AssignedWait;

static gboolean
assigned_more (gpointer data)
{
  AssignedWait *w = data;

  return w->run->n_assigned > w->n;
}

static void
test_drain_moves_now (void)
{
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *room = unique_room ("drain");
  g_autofree char *one = g_strdup_printf ("%s/lobby/dana/%s-one", mock->base, room);
  g_autofree char *two = g_strdup_printf ("%s/lobby/dana/%s-two", mock->base, room);
  const char *urls[] = { one, two, NULL };
  g_autoptr (CallRun) run = call_run_start (urls, "dana", mock->hash);
  AssignedWait more = { run, 0 };
  MockWtSession *carrier;
  guint64 old_id;
  gint64 drain_us;

  g_assert_true (wait_for (has_elected, run, 6000));
  carrier = mock_wt_relay_find (
      mock,
      g_str_has_suffix (confab_election_get_carrier_url (run->election), "-one") ? "-one" : "-two");
  g_assert_nonnull (carrier);
  old_id = confab_call_get_session_id (run->call);
  g_assert_cmpuint (old_id, ==, carrier->id);
  more.n = run->n_assigned;

  drain_us = g_get_monotonic_time ();
  confab_wt_session_drain (carrier->session);
  g_assert_true (wait_for (assigned_more, &more, 3000));
  g_test_message ("a new session carries the call %.1f ms after the drain",
                  ms_since (drain_us, run->assigned_us[more.n]));
  /* At once: a backoff would be >= 375 ms. */
  g_assert_cmpfloat (ms_since (drain_us, run->assigned_us[more.n]), <, 300 * time_scale ());
  g_assert_cmpuint (confab_call_get_session_id (run->call), !=, old_id);
  g_assert_cmpuint (run->reconnecting, ==, 0);
  g_assert_cmpuint (run->resumed, >=, 1);
  /* The drained session is let go by the client, not left to time out. */
  g_assert_true (wait_for (mock_closed, carrier, 2000));
  g_assert_false (run->closed);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/election/backoff", test_backoff);
  g_test_add_func ("/election/webtransport-preferred", test_webtransport_preferred);
  g_test_add_func ("/election/switch-to-webtransport", test_switch_to_webtransport);
  g_test_add_func ("/election/websocket-fallback/unreachable", test_websocket_fallback_unreachable);
  g_test_add_func ("/election/websocket-fallback/black-hole", test_websocket_fallback_black_hole);
  g_test_add_func ("/election/unanswered-webtransport-loses", test_unanswered_webtransport_loses);
  g_test_add_func ("/election/garbage", test_garbage);
  g_test_add_func ("/election/join-fails", test_join_fails);
  g_test_add_func ("/election/takeover-during-window", test_takeover_during_window);
  g_test_add_func ("/election/reconnect-after-restart", test_reconnect_after_restart);
  g_test_add_func ("/election/reconnect-within-grace", test_reconnect_within_grace);
  g_test_add_func ("/election/drain-moves-now", test_drain_moves_now);
  return g_test_run ();
}
