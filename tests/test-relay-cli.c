/* test-relay-cli.c: what participants see of a relay when real confab-cli
 * clients move between paths and relays: presence per user across a
 * transport election (one PARTICIPANT_JOINED, no PARTICIPANT_LEFT for a
 * client that only switched from WebSocket to WebTransport, on one relay and
 * across two relays on NATS), and graceful shutdown (SIGTERM: the relay
 * drains its clients to another relay, media flows again, the relay exits 0
 * within its bound), and retiring a WebTransport session after its stream
 * budget (the clients move, no frame and no presence is lost). A raw
 * WebSocket member records every PARTICIPANT_*
 * and every media packet it receives. */
#define G_LOG_DOMAIN "test-relay-cli"

#include "confab-packet.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-test-ws.h"
#include "test-election-util.h"

#include <string.h>

/* ---- a room member that records what it hears about one user ------------------ */

typedef struct
{
  gint64 at_us;
  int event; /* CONFAB_MEETING_PARTICIPANT_* */
  guint64 session_id;
} Presence;

typedef struct
{
  gint64 at_us;
  guint64 session_id;
} MediaSeen;

typedef struct
{
  ConfabTestWs *ws;
  char *user;       /* the recorder's own user id */
  char *watched;    /* the user whose presence and media are recorded */
  GArray *presence; /* Presence */
  GArray *media;    /* MediaSeen: audio and video from @watched */
  gint64 last_beat_us;
} Recorder;

static Recorder *
recorder_new (guint16 port, const char *user, const char *room, const char *watched)
{
  Recorder *rec = g_new0 (Recorder, 1);

  rec->ws = confab_test_ws_join (port, user, room);
  rec->user = g_strdup (user);
  rec->watched = g_strdup (watched);
  rec->presence = g_array_new (FALSE, FALSE, sizeof (Presence));
  rec->media = g_array_new (FALSE, FALSE, sizeof (MediaSeen));
  confab_test_ws_activate (rec->ws, user);
  rec->last_beat_us = g_get_monotonic_time ();
  return rec;
}

static void
recorder_free (Recorder *rec)
{
  confab_test_ws_free (rec->ws);
  g_array_unref (rec->presence);
  g_array_unref (rec->media);
  g_free (rec->user);
  g_free (rec->watched);
  g_free (rec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Recorder, recorder_free)

static gboolean
bytes_are (const ProtobufCBinaryData *data, const char *text)
{
  return data->len == strlen (text) && memcmp (data->data, text, data->len) == 0;
}

static void
recorder_note (Recorder *rec, const ConfabPacketWrapper *p)
{
  gint64 now = g_get_monotonic_time ();

  if (p->packet_type == CONFAB_PACKET_MEETING)
    {
      ConfabMeetingPacket *m = confab_test_meeting_of (p);

      if (m != NULL && bytes_are (&m->target_user_id, rec->watched) &&
          (m->event_type == CONFAB_MEETING_PARTICIPANT_JOINED ||
           m->event_type == CONFAB_MEETING_PARTICIPANT_LEFT))
        {
          Presence e = { now, m->event_type, m->session_id };

          g_test_message ("%s hears %s %s (session %" G_GUINT64_FORMAT ")", rec->user, rec->watched,
                          m->event_type == CONFAB_MEETING_PARTICIPANT_JOINED ? "JOINED" : "LEFT",
                          m->session_id);
          g_array_append_val (rec->presence, e);
        }
      if (m != NULL)
        confab__meeting_packet__free_unpacked (m, NULL);
      return;
    }
  if (p->packet_type == CONFAB_PACKET_MEDIA && bytes_are (&p->user_id, rec->watched))
    {
      ConfabMediaPacket *m = confab_test_media_of (p);

      if (m != NULL && (m->media_type == CONFAB_MEDIA_AUDIO || m->media_type == CONFAB_MEDIA_VIDEO))
        {
          MediaSeen e = { now, p->session_id };

          g_array_append_val (rec->media, e);
        }
      if (m != NULL)
        confab__media_packet__free_unpacked (m, NULL);
    }
}

/* Reads for @ms while the main context (the CLI subprocesses, relay logs)
 * runs; a heartbeat every second keeps the recorder a live member. */
static void
recorders_pump (Recorder **recs, guint ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;

  do
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      for (guint i = 0; recs[i] != NULL; i++)
        {
          Recorder *rec = recs[i];
          g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (rec->ws, 5);

          if (p != NULL)
            recorder_note (rec, p);
          if (g_get_monotonic_time () - rec->last_beat_us > G_USEC_PER_SEC)
            {
              confab_test_ws_activate (rec->ws, rec->user);
              rec->last_beat_us = g_get_monotonic_time ();
            }
        }
    }
  while (g_get_monotonic_time () < deadline);
}

static guint
count_presence (Recorder *rec, int event, gint64 from_us, gint64 to_us)
{
  guint n = 0;

  for (guint i = 0; i < rec->presence->len; i++)
    {
      Presence *e = &g_array_index (rec->presence, Presence, i);

      if (e->event == event && e->at_us >= from_us && e->at_us < to_us)
        n++;
    }
  return n;
}

static guint
count_media_sessions (Recorder *rec)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < rec->media->len; i++)
    g_hash_table_add (ids, &g_array_index (rec->media, MediaSeen, i).session_id);
  return g_hash_table_size (ids);
}

static guint
count_log (LoggedRelay *relay, const char *word, const char *room_key, const char *who)
{
  guint n = 0;

  for (guint i = 0; i < relay->lines->len; i++)
    {
      const char *line = g_ptr_array_index (relay->lines, i);

      if (strstr (line, word) != NULL && strstr (line, room_key) != NULL &&
          strstr (line, who) != NULL)
        n++;
    }
  return n;
}

static void
dump_log (LoggedRelay *relay, const char *name)
{
  for (guint i = 0; i < relay->lines->len; i++)
    g_test_message ("%s: %s", name, (char *) g_ptr_array_index (relay->lines, i));
}

static char *
udp_port_arg (guint16 *port)
{
  *port = unused_udp_port ();
  return g_strdup_printf ("%u", *port);
}

/* Pumps @recs until @run exits (bounded), then @after_ms more. */
static gint64
pump_until_exit (Recorder **recs, ConfabTestCli *run, guint timeout_ms, guint after_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint64 exit_us;

  while (!run->done && g_get_monotonic_time () < deadline)
    recorders_pump (recs, 50);
  exit_us = g_get_monotonic_time ();
  recorders_pump (recs, after_ms);
  confab_test_cli_wait (run, 1000);
  return exit_us;
}

/* ---- presence across a path switch ------------------------------------------------ */

/* The client's election: the WebSocket path usually carries the call first
 * (it is up before the QUIC handshake is done), then WebTransport wins after
 * the 2 s window and the WebSocket loser is closed. Asserted: the switch
 * happened (two activations of the user on the relays), and each recorder
 * heard exactly one PARTICIPANT_JOINED and no PARTICIPANT_LEFT while the
 * client was in the call, then exactly one LEFT after it quit. */
static void
check_switch_presence (Recorder **recs,
                       LoggedRelay **relays,
                       const char *room_key,
                       ConfabTestCli *run,
                       gint64 start_us,
                       gint64 exit_us)
{
  guint activations = 0;

  for (guint i = 0; relays[i] != NULL; i++)
    {
      dump_log (relays[i], i == 0 ? "relay" : "second relay");
      activations += count_log (relays[i], "activate", room_key, "user=switcher");
    }
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (run->summary);
  g_assert_cmpstr (json_object_get_string_member (run->summary, "transport"), ==, "webtransport");
  /* Without a switch there would be nothing to test. */
  g_assert_cmpuint (activations, >=, 2);
  for (guint i = 0; recs[i] != NULL; i++)
    {
      Recorder *rec = recs[i];

      g_test_message ("%s: media from %u sessions of switcher", rec->user,
                      count_media_sessions (rec));
      /* It did hear the switch: media came from two sessions. */
      g_assert_cmpuint (count_media_sessions (rec), >=, 2);
      g_assert_cmpuint (count_presence (rec, CONFAB_MEETING_PARTICIPANT_JOINED, start_us, exit_us),
                        ==, 1);
      g_assert_cmpuint (count_presence (rec, CONFAB_MEETING_PARTICIPANT_LEFT, start_us, exit_us),
                        ==, 0);
      g_assert_cmpuint (
          count_presence (rec, CONFAB_MEETING_PARTICIPANT_JOINED, exit_us, G_MAXINT64), ==, 0);
      g_assert_cmpuint (count_presence (rec, CONFAB_MEETING_PARTICIPANT_LEFT, exit_us, G_MAXINT64),
                        ==, 1);
    }
}

/* One relay with both listeners; the client reads its /config.js. */
static void
test_presence_switch (void)
{
  guint16 wt_port;
  g_autofree char *wt_port_str = udp_port_arg (&wt_port);
  const char *args[] = { "--wt-port", wt_port_str, NULL };
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, args);
  g_autofree char *room = confab_test_unique_room ("switch");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *link = g_strdup_printf ("http://127.0.0.1:%u/meeting/%s", relay->port, room);
  g_autoptr (Recorder) watcher = recorder_new (relay->port, "watcher", room, "switcher");
  Recorder *recs[] = { watcher, NULL };
  LoggedRelay *relays[] = { relay, NULL };
  g_autoptr (ConfabTestCli) run = NULL;
  gint64 start_us = g_get_monotonic_time ();
  gint64 exit_us;

  run = confab_test_cli_start ("join", link, "--name", "switcher", "--duration", "6", "--size",
                               "160x90", "--fps", "10", NULL);
  exit_us = pump_until_exit (recs, run, 30000, 3500);
  check_switch_presence (recs, relays, room_key, run, start_us, exit_us);
}

/* The same across two relays on NATS: /config.js (a mock origin) names
 * relay A's WebSocket and relay B's WebTransport, so the client's first
 * session lives on A and its final one on B. A member on each relay. */
static void
test_presence_switch_across_relays (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  guint16 wt_port;
  g_autofree char *wt_port_str = udp_port_arg (&wt_port);
  const char *args_a[] = { "--nats", nats->url, NULL };
  const char *args_b[] = { "--nats", nats->url, "--wt-port", wt_port_str, NULL };
  g_autoptr (LoggedRelay) relay_a = logged_relay_start (0, args_a);
  g_autoptr (LoggedRelay) relay_b = logged_relay_start (0, args_b);
  g_autofree char *hash = logged_relay_cert_hash (relay_b);
  g_autofree char *wt_host = g_strdup_printf ("127.0.0.1:%u", wt_port);
  g_autoptr (MockOrigin) origin = mock_origin_new (relay_a->ws_base, wt_host, hash);
  g_autofree char *room = confab_test_unique_room ("switch-nats");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *link = g_strdup_printf ("http://127.0.0.1:%u/meeting/%s", origin->port, room);
  g_autoptr (Recorder) on_a = recorder_new (relay_a->port, "watcher-a", room, "switcher");
  g_autoptr (Recorder) on_b = recorder_new (relay_b->port, "watcher-b", room, "switcher");
  Recorder *recs[] = { on_a, on_b, NULL };
  LoggedRelay *relays[] = { relay_a, relay_b, NULL };
  g_autoptr (ConfabTestCli) run = NULL;
  gint64 start_us, exit_us;

  g_assert_nonnull (hash);
  /* Both relays hold the room's subscriptions before the client comes. */
  {
    gboolean crossed = FALSE;

    for (guint i = 0; i < 40 && !crossed; i++)
      {
        confab_test_ws_send_marker (on_a->ws, "watcher-a", "settled");
        for (gint64 until = g_get_monotonic_time () + 100000; g_get_monotonic_time () < until;)
          {
            g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (on_b->ws, 10);

            if (p != NULL && confab_test_is_marker (p, "settled"))
              crossed = TRUE;
          }
      }
    g_assert_true (crossed);
  }
  start_us = g_get_monotonic_time ();
  run = confab_test_cli_start ("join", link, "--name", "switcher", "--duration", "6", "--size",
                               "160x90", "--fps", "10", NULL);
  exit_us = pump_until_exit (recs, run, 30000, 3500);
  check_switch_presence (recs, relays, room_key, run, start_us, exit_us);
  g_assert_cmpuint (count_log (relay_a, "activate", room_key, "user=switcher"), >=, 1);
  g_assert_cmpuint (count_log (relay_b, "activate", room_key, "user=switcher"), >=, 1);
}

/* ---- graceful shutdown ----------------------------------------------------------------- */

/* Two CLIs in a call on two relays over NATS: "mover" on relay A (its
 * /config.js lists both relays, but B is started only after it joined A),
 * "stayer" on B. A gets SIGTERM: it tells its clients to go (WebTransport:
 * GOAWAY + DRAIN_WEBTRANSPORT_SESSION; WebSocket: close 1001), the mover
 * moves to B at once, media from it reaches B's members again, and nobody
 * hears the mover leave. A "lingerer" on A never answers the close, so A
 * waits for it, but only its 2 s bound, then exits 0; the lingerer's LEFT
 * is announced then, not lost with the relay. */
static void
run_shutdown (const char *transport)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  guint16 ws_a = confab_test_free_port (), ws_b = confab_test_free_port ();
  guint16 wt_a, wt_b;
  g_autofree char *wt_a_str = udp_port_arg (&wt_a);
  g_autofree char *wt_b_str = udp_port_arg (&wt_b);
  const char *args_a[] = { "--nats", nats->url, "--wt-port", wt_a_str, NULL };
  const char *args_b[] = { "--nats", nats->url, "--wt-port", wt_b_str, NULL };
  g_autofree char *ws_urls = g_strdup_printf ("ws://127.0.0.1:%u,ws://127.0.0.1:%u", ws_a, ws_b);
  g_autofree char *wt_hosts = g_strdup_printf ("127.0.0.1:%u,127.0.0.1:%u", wt_a, wt_b);
  g_autoptr (MockOrigin) origin = mock_origin_new (ws_urls, wt_hosts, "");
  g_autofree char *room = confab_test_unique_room ("drain");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *link = g_strdup_printf ("http://127.0.0.1:%u/meeting/%s", origin->port, room);
  g_autoptr (LoggedRelay) relay_a = NULL;
  g_autoptr (LoggedRelay) relay_b = NULL;
  g_autoptr (Recorder) watcher = NULL;
  g_autoptr (Recorder) lingerer_watch = NULL;
  g_autoptr (ConfabTestWs) lingerer = NULL;
  g_autoptr (ConfabTestCli) mover = NULL;
  g_autoptr (ConfabTestCli) stayer = NULL;
  g_autofree char *stayer_url = NULL;
  Recorder *recs[3] = { NULL, NULL, NULL };
  gint64 deadline, term_us, again_us = 0, start_us;
  guint64 old_session = 0;
  JsonObject *peer;
  const char *want = g_strcmp0 (transport, "websocket") == 0 ? "websocket" : "webtransport";

  g_unsetenv ("CONFAB_RELAY_DRAIN_TIMEOUT_MS");
  relay_a = logged_relay_start (ws_a, args_a);
  mover = confab_test_cli_start ("join", link, "--name", "mover", "--transport", transport,
                                 "--insecure", "--duration", "12", "--size", "160x90", "--fps",
                                 "15", NULL);
  /* Settled on A (the window is 2 s, at most 4 s with extensions). */
  run_for (4500);
  g_assert_cmpuint (count_log (relay_a, "activate", room_key, "user=mover"), >=, 1);

  relay_b = logged_relay_start (ws_b, args_b);
  stayer_url = g_strdup_printf ("%s/lobby/stayer/%s", relay_b->ws_base, room);
  stayer = confab_test_cli_start ("join", stayer_url, "--duration", "9", "--size", "160x90",
                                  "--fps", "15", NULL);
  watcher = recorder_new (ws_b, "watcher", room, "mover");
  lingerer_watch = recorder_new (ws_b, "watcher2", room, "lingerer");
  recs[0] = watcher;
  recs[1] = lingerer_watch;
  lingerer = confab_test_ws_join (ws_a, "lingerer", room);
  confab_test_ws_activate (lingerer, "lingerer");
  start_us = g_get_monotonic_time ();
  /* The mover's media reaches B through NATS. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (watcher->media->len < 20 && g_get_monotonic_time () < deadline)
    recorders_pump (recs, 50);
  g_assert_cmpuint (watcher->media->len, >=, 20);
  recorders_pump (recs, 1000);
  old_session = g_array_index (watcher->media, MediaSeen, watcher->media->len - 1).session_id;

  term_us = g_get_monotonic_time ();
  logged_relay_terminate (relay_a);
  deadline = term_us + 10 * G_USEC_PER_SEC;
  while ((!relay_a->exited || again_us == 0) && g_get_monotonic_time () < deadline)
    {
      recorders_pump (recs, 20);
      for (guint i = 0; i < watcher->media->len && again_us == 0; i++)
        {
          MediaSeen *m = &g_array_index (watcher->media, MediaSeen, i);

          if (m->at_us > term_us && m->session_id != old_session)
            again_us = m->at_us;
        }
    }
  dump_log (relay_a, "relay A");
  g_assert_true (relay_a->exited);
  g_test_message ("%s: relay A exited %d %.0f ms after SIGTERM; the mover's media reached B "
                  "again on a new session %.0f ms after SIGTERM",
                  transport, relay_a->exit_status, (relay_a->exit_us - term_us) / 1000.0,
                  again_us > 0 ? (again_us - term_us) / 1000.0 : -1.0);
  g_assert_cmpint (relay_a->exit_status, ==, 0);
  /* It waited for the lingerer, but only its 2 s bound (plus teardown: lws,
   * the NATS flush; 10-200 ms on this machine under load). */
  g_assert_cmpint (relay_a->exit_us - term_us, >=, 1900 * 1000);
  g_assert_cmpint (relay_a->exit_us - term_us, <, 3000 * 1000 * time_scale ());
  g_assert_cmpint (logged_relay_find (relay_a, "drained: timeout", "", 0), >, 0);
  /* The lingerer got the close 1001. */
  g_assert_true (confab_test_ws_wait_closed (lingerer, 1000));
  g_assert_cmpuint (lingerer->close_code, ==, 1001);
  /* Its LEFT went out before the relay did. */
  recorders_pump (recs, 1000);
  g_assert_cmpuint (
      count_presence (lingerer_watch, CONFAB_MEETING_PARTICIPANT_LEFT, term_us, G_MAXINT64), ==, 1);
  g_assert_cmpint (again_us, >, 0);
  /* No backoff: the move starts at once (the first backoff of PROTOCOL.md
   * §5 alone is 375-500 ms); measured 10-30 ms on loopback. */
  g_assert_cmpint (again_us - term_us, <, 350 * 1000 * time_scale ());

  pump_until_exit (recs, mover, 30000, 0);
  confab_test_cli_wait (stayer, 30000);
  dump_log (relay_b, "relay B");
  g_assert_cmpint (mover->status, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (mover->summary, "transport"), ==, want);
  g_assert_cmpint (json_object_get_int_member (mover->summary, "reconnects"), >=, 1);
  g_assert_cmpuint (count_log (relay_b, "activate", room_key, "user=mover"), >=, 1);
  /* The stayer received the mover's media on the mover's final session (on B). */
  g_assert_cmpint (stayer->status, ==, 0);
  peer = peer_with_session (stayer->summary, confab_test_json_session_id (mover->summary));
  g_assert_nonnull (peer);
  g_assert_cmpint (json_object_get_int_member (peer, "video_frames"), >=, 15);
  g_assert_cmpint (json_object_get_int_member (peer, "audio_packets"), >=, 50);
  /* A move is not a leave. */
  g_assert_cmpuint (count_presence (watcher, CONFAB_MEETING_PARTICIPANT_LEFT, start_us,
                                    relay_a->exit_us + 3000000),
                    ==, 0);
}

static void
test_shutdown_webtransport (void)
{
  run_shutdown ("auto");
}

static void
test_shutdown_websocket (void)
{
  run_shutdown ("websocket");
}

/* ---- retiring a session after its stream budget -------------------------------- */

/* Sums what @summary's peers of @user decoded (one peer per session: a
 * sender that moved appears once per session). */
static gint64
decoded_from_user (JsonObject *summary, const char *user)
{
  JsonArray *peers = json_object_get_array_member (summary, "peers");
  gint64 n = 0;

  for (guint i = 0; i < json_array_get_length (peers); i++)
    {
      JsonObject *peer = json_array_get_object_element (peers, i);

      if (g_strcmp0 (json_object_get_string_member (peer, "user_id"), user) == 0)
        n += json_object_get_int_member (peer, "decoded_video_frames");
    }
  return n;
}

/* ngtcp2 0.12.1 keeps ~0.25 KB per stream until the connection ends, so the
 * relay retires a WebTransport session after a budget of streams (here 400,
 * ~3 s of a 15 fps call): DRAIN_WEBTRANSPORT_SESSION while it keeps
 * delivering; the client moves to a fresh session make-before-break.
 * Asserted: the sender moved (reconnects, relay log), the receiver decoded
 * >= 90 % of the frames sent across the moves, and a third member never
 * heard the sender leave while it was in the call. */
static void
test_retire_webtransport (void)
{
  guint16 wt_port;
  g_autofree char *wt_port_str = udp_port_arg (&wt_port);
  const char *args[] = { "--wt-port", wt_port_str, "--wt-stream-budget", "400", NULL };
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, args);
  g_autofree char *room = confab_test_unique_room ("retire");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *link = g_strdup_printf ("http://127.0.0.1:%u/meeting/%s", relay->port, room);
  g_autoptr (Recorder) watcher = recorder_new (relay->port, "watcher", room, "sender");
  Recorder *recs[] = { watcher, NULL };
  g_autoptr (ConfabTestCli) sender = NULL;
  g_autoptr (ConfabTestCli) receiver = NULL;
  gint64 start_us, exit_us, deadline, sent, decoded;
  guint retires = 0, moves = 0;
  double move_ms_max = 0;

  receiver =
      confab_test_cli_start ("join", link, "--name", "receiver", "--transport", "webtransport",
                             "--duration", "12", "--size", "160x90", "--fps", "15", NULL);
  /* The receiver is in before the sender's first frame. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (count_log (relay, "activate", room_key, "user=receiver") == 0 &&
         g_get_monotonic_time () < deadline)
    recorders_pump (recs, 50);
  g_assert_cmpuint (count_log (relay, "activate", room_key, "user=receiver"), >=, 1);
  start_us = g_get_monotonic_time ();
  sender = confab_test_cli_start ("join", link, "--name", "sender", "--transport", "webtransport",
                                  "--duration", "8", "--size", "160x90", "--fps", "15", NULL);
  exit_us = pump_until_exit (recs, sender, 30000, 0);
  confab_test_cli_wait (receiver, 30000);
  recorders_pump (recs, 500);
  dump_log (relay, "relay");

  g_assert_cmpint (sender->status, ==, 0);
  g_assert_cmpint (receiver->status, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (sender->summary, "transport"), ==,
                   "webtransport");
  /* The moves: each retirement of the sender's session is followed by a
   * fresh session of the sender. */
  for (guint i = 0; i < relay->lines->len; i++)
    {
      const char *line = g_ptr_array_index (relay->lines, i);
      gint64 at = g_array_index (relay->line_us, gint64, i);
      g_autofree char *who = NULL;

      if (strstr (line, "retire ") == NULL || strstr (line, room_key) == NULL)
        continue;
      retires++;
      /* Which user: the session's activate line names it. */
      for (guint j = 0; j < i && who == NULL; j++)
        {
          const char *other = g_ptr_array_index (relay->lines, j);
          const char *session = strstr (line, "session=");
          g_autofree char *key = NULL;

          if (session == NULL)
            break;
          key = g_strndup (session, strcspn (session, " :"));
          if (strstr (other, "activate") != NULL && strstr (other, key) != NULL &&
              strstr (other, "user=sender") != NULL)
            who = g_strdup ("sender");
        }
      if (who == NULL)
        continue;
      for (guint j = i + 1; j < relay->lines->len; j++)
        {
          const char *next = g_ptr_array_index (relay->lines, j);

          if (strstr (next, "activate") != NULL && strstr (next, room_key) != NULL &&
              strstr (next, "user=sender") != NULL)
            {
              double ms = (g_array_index (relay->line_us, gint64, j) - at) / 1000.0;

              moves++;
              move_ms_max = MAX (move_ms_max, ms);
              g_test_message ("sender moved %.0f ms after its session was retired", ms);
              break;
            }
        }
    }
  sent = json_object_get_int_member (json_object_get_object_member (sender->summary, "sent"),
                                     "video_frames");
  decoded = decoded_from_user (receiver->summary, "sender");
  g_test_message (
      "%u retirements (%u of the sender, moved within %.0f ms); sender reconnects %" G_GINT64_FORMAT
      "; receiver decoded %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " frames sent",
      retires, moves, move_ms_max, json_object_get_int_member (sender->summary, "reconnects"),
      decoded, sent);
  g_assert_cmpuint (moves, >=, 1);
  g_assert_cmpint (json_object_get_int_member (sender->summary, "reconnects"), >=, 1);
  /* The moves did not wait for the 30 s bound that closes a stuck session. */
  g_assert_cmpuint (count_log (relay, "did not move", room_key, ""), ==, 0);
  g_assert_cmpint (sent, >=, 60);
  g_assert_cmpint (decoded * 10, >=, sent * 9);
  /* A move is not a leave. */
  g_assert_cmpuint (count_presence (watcher, CONFAB_MEETING_PARTICIPANT_JOINED, start_us, exit_us),
                    ==, 1);
  g_assert_cmpuint (count_presence (watcher, CONFAB_MEETING_PARTICIPANT_LEFT, start_us, exit_us),
                    ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay-cli/presence/switch", test_presence_switch);
  g_test_add_func ("/relay-cli/presence/switch-across-relays", test_presence_switch_across_relays);
  g_test_add_func ("/relay-cli/shutdown/webtransport", test_shutdown_webtransport);
  g_test_add_func ("/relay-cli/shutdown/websocket", test_shutdown_websocket);
  g_test_add_func ("/relay-cli/retire/webtransport", test_retire_webtransport);
  return g_test_run ();
}
