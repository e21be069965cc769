/* test-election-cli.c: confab-cli's transport choice and reconnect, as a
 * user runs it: over the real relay's WebTransport and WebSocket in one room
 * (and across two relays on NATS), through /config.js listing WebTransport
 * and WebSocket servers (the relay's own, or a mock origin's that points at
 * MockWtRelay or at a UDP port where nothing answers), and clients carrying
 * on after the relay is killed and restarted, over either transport. */
#define G_LOG_DOMAIN "test-election-cli"

#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "test-election-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* ---- tests ------------------------------------------------------------------------------ */

/* https://…/lobby/… is WebTransport; the certificate is pinned by --cert-hash. */
static void
test_webtransport_link (void)
{
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *room = confab_test_unique_room ("cli-wt");
  g_autofree char *url = g_strdup_printf ("%s/lobby/hana/%s", mock->base, room);
  g_autoptr (ConfabTestCli) run = confab_test_cli_start (
      "join", url, "--cert-hash", mock->hash, "--duration", "1", "--size", "320x180", NULL);
  g_autoptr (ConfabTestCli) wrong_pin = NULL;
  MockWtSession *ms;

  confab_test_cli_wait (run, 20000);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (run->summary);
  g_assert_cmpstr (json_object_get_string_member (run->summary, "transport"), ==, "webtransport");
  g_test_message ("join_ms over WebTransport: %.1f",
                  json_object_get_double_member (run->summary, "join_ms"));
  g_assert_cmpfloat (json_object_get_double_member (run->summary, "join_ms"), <,
                     300 * time_scale ());
  g_assert_cmpint (json_object_get_int_member (run->summary, "reconnects"), ==, 0);
  ms = mock_wt_relay_find (mock, room);
  g_assert_nonnull (ms);
  g_assert_cmpuint (confab_test_json_session_id (run->summary), ==, ms->id);
  /* Media went over WebTransport streams. */
  g_assert_cmpuint (ms->non_rtt, >=, 40);

  /* Full verification (the default) refuses a self-signed relay. */
  wrong_pin = confab_test_cli_start ("join", url, "--duration", "1", NULL);
  confab_test_cli_wait (wrong_pin, 20000);
  g_assert_cmpint (wrong_pin->status, ==, 2);
}

static void
test_transport_option (void)
{
  static const char *const cases[][6] = {
    { "https://127.0.0.1:1/lobby/a/b", "--transport", "websocket", NULL },
    { "ws://127.0.0.1:1/lobby/a/b", "--transport", "webtransport", NULL },
    { "ws://127.0.0.1:1/lobby/a/b", "--transport", "quic", NULL },
    { "https://127.0.0.1:1/lobby/bad.name/b", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (ConfabTestCli) run =
          confab_test_cli_start ("join", cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);

      confab_test_cli_wait (run, 10000);
      g_assert_cmpint (run->status, ==, 2);
      g_assert_true (g_str_has_prefix (run->err, "confab-cli: "));
    }
}

/* /config.js lists a WebTransport server (pinned by its hash there) and the
 * relay's WebSocket: auto picks WebTransport; --transport websocket the relay. */
static void
test_config_prefers_webtransport (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (MockWtRelay) mock = mock_wt_relay_new ();
  g_autofree char *wt_host =
      g_strdup_printf ("127.0.0.1:%u", confab_wt_server_get_port (mock->server));
  g_autoptr (MockOrigin) origin = mock_origin_new (relay->ws_base, wt_host, mock->hash);
  g_autofree char *room = confab_test_unique_room ("cli-config");
  g_autofree char *link = g_strdup_printf ("http://127.0.0.1:%u/meeting/%s", origin->port, room);
  g_autoptr (ConfabTestCli) auto_run = confab_test_cli_start (
      "join", link, "--name", "ivan", "--duration", "3", "--video", "none", NULL);
  g_autoptr (ConfabTestCli) ws_run =
      confab_test_cli_start ("join", link, "--name", "jo", "--transport", "websocket", "--duration",
                             "1", "--video", "none", NULL);

  confab_test_cli_wait (auto_run, 20000);
  confab_test_cli_wait (ws_run, 20000);
  g_assert_cmpint (auto_run->status, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (auto_run->summary, "transport"), ==,
                   "webtransport");
  g_assert_nonnull (mock_wt_relay_find (mock, "/lobby/ivan/"));
  g_assert_cmpuint (confab_test_json_session_id (auto_run->summary), ==,
                    mock_wt_relay_find (mock, "/lobby/ivan/")->id);
  g_assert_cmpint (ws_run->status, ==, 0);
  g_assert_cmpstr (json_object_get_string_member (ws_run->summary, "transport"), ==, "websocket");
  g_assert_null (mock_wt_relay_find (mock, "/lobby/jo/"));
}

/* /config.js names a WebTransport port where nothing answers: two clients
 * meet over the relay's WebSocket within 1 s and exchange media. */
static void
test_config_udp_blocked (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  guint16 hole_port;
  g_autoptr (GSocket) hole = udp_black_hole (&hole_port);
  g_autofree char *wt_host = g_strdup_printf ("https://127.0.0.1:%u", hole_port);
  g_autoptr (MockOrigin) origin =
      mock_origin_new (relay->ws_base, wt_host, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  g_autofree char *room = confab_test_unique_room ("cli-blocked");
  g_autofree char *link = g_strdup_printf ("http://127.0.0.1:%u/meeting/%s", origin->port, room);
  g_autoptr (ConfabTestCli) a =
      confab_test_cli_start ("join", link, "--name", "kim", "--duration", "4", "--size", "320x180",
                             "--expect-peers", "1", NULL);
  g_autoptr (ConfabTestCli) b =
      confab_test_cli_start ("join", link, "--name", "lee", "--duration", "4", "--size", "320x180",
                             "--expect-peers", "1", NULL);
  ConfabTestCli *runs[] = { a, b };

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      confab_test_cli_wait (runs[i], 30000);
      g_assert_cmpint (runs[i]->status, ==, 0);
      g_assert_cmpstr (json_object_get_string_member (runs[i]->summary, "transport"), ==,
                       "websocket");
      g_test_message ("join_ms with UDP going nowhere: %.1f",
                      json_object_get_double_member (runs[i]->summary, "join_ms"));
      g_assert_cmpfloat (json_object_get_double_member (runs[i]->summary, "join_ms"), <,
                         1000 * time_scale ());
    }
}

/* Two clients in a call; the relay is killed (SIGKILL) and started again on
 * the same port. Both reconnect, and each receives the other's media on the
 * other's new session, which exists only on the restarted relay. */
static void
test_relay_restart (void)
{
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, NULL);
  g_autoptr (LoggedRelay) again = NULL;
  g_autofree char *room = confab_test_unique_room ("cli-restart");
  g_autofree char *room_key = g_strdup_printf ("room=%s ", room);
  g_autofree char *url_a = g_strdup_printf ("%s/lobby/mia/%s", relay->ws_base, room);
  g_autofree char *url_b = g_strdup_printf ("%s/lobby/ned/%s", relay->ws_base, room);
  g_autoptr (ConfabTestCli) a =
      confab_test_cli_start ("join", url_a, "--duration", "8", "--size", "320x180", NULL);
  g_autoptr (ConfabTestCli) b =
      confab_test_cli_start ("join", url_b, "--duration", "8", "--size", "320x180", NULL);
  ConfabTestCli *runs[] = { a, b };
  const char *names[] = { "mia", "ned" };
  gint64 kill_us, up_us, back_us[2];

  /* Both in the call for a while. */
  run_for (3000);
  g_assert_cmpint (logged_relay_find (relay, "activate", room_key, 0), >, 0);
  kill_us = g_get_monotonic_time ();
  logged_relay_stop_process (relay, TRUE);
  run_for (500);
  again = logged_relay_start (relay->port, NULL);
  up_us = g_get_monotonic_time ();

  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    confab_test_cli_wait (runs[i], 30000);
  for (guint l = 0; l < relay->lines->len; l++)
    g_test_message ("relay: %s", (char *) g_ptr_array_index (relay->lines, l));
  for (guint l = 0; l < again->lines->len; l++)
    g_test_message ("restarted relay: %s", (char *) g_ptr_array_index (again->lines, l));
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      g_autofree char *who = g_strdup_printf ("user=%s", names[i]);

      g_assert_cmpint (runs[i]->status, ==, 0);
      g_assert_nonnull (runs[i]->summary);
      g_assert_cmpint (json_object_get_int_member (runs[i]->summary, "reconnects"), >=, 1);
      back_us[i] = 0;
      for (guint l = 0; l < again->lines->len; l++)
        {
          const char *line = g_ptr_array_index (again->lines, l);

          if (strstr (line, "activate") && strstr (line, room_key) && strstr (line, who))
            {
              back_us[i] = g_array_index (again->line_us, gint64, l);
              break;
            }
        }
      g_assert_cmpint (back_us[i], >, 0);
      g_test_message ("%s active again %.0f ms after the kill (%.0f ms after the relay was up)",
                      names[i], (back_us[i] - kill_us) / 1000.0, (back_us[i] - up_us) / 1000.0);
      /* Backoff from 500 ms, doubling, 2 s cap: back within ~3 s of the restart. */
      g_assert_cmpint (back_us[i] - up_us, <, 3 * G_USEC_PER_SEC * time_scale ());
    }
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    {
      ConfabTestCli *other = runs[1 - i];
      JsonObject *peer =
          peer_with_session (runs[i]->summary, confab_test_json_session_id (other->summary));

      g_assert_nonnull (peer);
      g_assert_cmpstr (json_object_get_string_member (peer, "user_id"), ==, names[1 - i]);
      g_test_message ("%s got %" G_GINT64_FORMAT " frames / %" G_GINT64_FORMAT
                      " audio packets from %s after the restart",
                      names[i], json_object_get_int_member (peer, "video_frames"),
                      json_object_get_int_member (peer, "audio_packets"), names[1 - i]);
      g_assert_cmpint (json_object_get_int_member (peer, "video_frames"), >=, 30);
      g_assert_cmpint (json_object_get_int_member (peer, "audio_packets"), >=, 50);
      g_assert_cmpint (json_object_get_int_member (peer, "decoded_video_frames"), >, 0);
    }
}

static char *
udp_port_arg (guint16 *port)
{
  *port = unused_udp_port ();
  return g_strdup_printf ("%u", *port);
}

/* Through the real relay: an invite link with auto (WebTransport), one with
 * --transport websocket, and an https:// lobby link pinned by --cert-hash
 * all meet in one room and receive each other's media. */
static void
test_relay_webtransport_and_mixed (void)
{
  guint16 wt_port;
  g_autofree char *wt_port_str = udp_port_arg (&wt_port);
  const char *args[] = { "--wt-port", wt_port_str, NULL };
  g_autoptr (LoggedRelay) relay = logged_relay_start (0, args);
  g_autofree char *room = confab_test_unique_room ("cli-mixed");
  g_autofree char *link = g_strdup_printf ("http://127.0.0.1:%u/meeting/%s", relay->port, room);
  g_autofree char *hash = NULL;
  g_autofree char *direct = NULL;
  g_autoptr (ConfabTestCli) a = NULL;
  g_autoptr (ConfabTestCli) b = NULL;
  g_autoptr (ConfabTestCli) c = NULL;
  ConfabTestCli *runs[3];
  const char *kinds[] = { "webtransport", "websocket", "webtransport" };

  /* The certificate line comes before "listening". */
  hash = logged_relay_cert_hash (relay);
  g_assert_nonnull (hash);
  direct = g_strdup_printf ("https://127.0.0.1:%u/lobby/pia/%s", wt_port, room);
  a = confab_test_cli_start ("join", link, "--name", "oto", "--duration", "5", "--size", "320x180",
                             "--expect-peers", "2", NULL);
  b = confab_test_cli_start ("join", link, "--name", "quinn", "--transport", "websocket",
                             "--duration", "5", "--size", "320x180", "--expect-peers", "2", NULL);
  c = confab_test_cli_start ("join", direct, "--cert-hash", hash, "--video", "none", "--duration",
                             "5", "--expect-peers", "2", NULL);
  runs[0] = a;
  runs[1] = b;
  runs[2] = c;
  for (guint i = 0; i < 3; i++)
    {
      confab_test_cli_wait (runs[i], 30000);
      g_assert_cmpint (runs[i]->status, ==, 0);
      g_assert_cmpstr (json_object_get_string_member (runs[i]->summary, "transport"), ==, kinds[i]);
      g_test_message ("%s: join_ms %.1f", kinds[i],
                      json_object_get_double_member (runs[i]->summary, "join_ms"));
      g_assert_cmpfloat (json_object_get_double_member (runs[i]->summary, "join_ms"), <,
                         300 * time_scale ());
    }
  /* Everyone's final session was heard by the two others. */
  for (guint i = 0; i < 3; i++)
    for (guint j = 0; j < 3; j++)
      {
        JsonObject *peer;

        if (i == j)
          continue;
        peer = peer_with_session (runs[i]->summary, confab_test_json_session_id (runs[j]->summary));
        g_assert_nonnull (peer);
        g_assert_cmpint (json_object_get_int_member (peer, "audio_packets"), >=, 50);
        if (j != 2)
          g_assert_cmpint (json_object_get_int_member (peer, "video_frames"), >=, 30);
      }
}

/* Two relays sharing rooms over NATS: a client on one relay's WebTransport
 * and a client on the other's WebSocket receive each other's media. */
static void
test_relays_nats_mixed (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  guint16 wt_port;
  g_autofree char *wt_port_str = udp_port_arg (&wt_port);
  const char *args_a[] = { "--wt-port", wt_port_str, "--nats", nats->url, NULL };
  const char *args_b[] = { "--nats", nats->url, NULL };
  g_autoptr (LoggedRelay) relay_a = logged_relay_start (0, args_a);
  g_autoptr (LoggedRelay) relay_b = logged_relay_start (0, args_b);
  g_autofree char *room = confab_test_unique_room ("cli-nats");
  g_autofree char *hash = logged_relay_cert_hash (relay_a);
  g_autofree char *url_a = g_strdup_printf ("https://127.0.0.1:%u/lobby/tao/%s", wt_port, room);
  g_autofree char *url_b = g_strdup_printf ("%s/lobby/uma/%s", relay_b->ws_base, room);
  g_autoptr (ConfabTestCli) a =
      confab_test_cli_start ("join", url_a, "--cert-hash", hash, "--duration", "5", "--size",
                             "320x180", "--expect-peers", "1", NULL);
  g_autoptr (ConfabTestCli) b = confab_test_cli_start ("join", url_b, "--duration", "5", "--size",
                                                       "320x180", "--expect-peers", "1", NULL);
  ConfabTestCli *runs[] = { a, b };
  const char *kinds[] = { "webtransport", "websocket" };

  for (guint i = 0; i < 2; i++)
    {
      confab_test_cli_wait (runs[i], 30000);
      g_assert_cmpint (runs[i]->status, ==, 0);
      g_assert_cmpstr (json_object_get_string_member (runs[i]->summary, "transport"), ==, kinds[i]);
    }
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *peer =
          peer_with_session (runs[i]->summary, confab_test_json_session_id (runs[1 - i]->summary));

      g_assert_nonnull (peer);
      g_assert_cmpint (json_object_get_int_member (peer, "video_frames"), >=, 100);
      g_assert_cmpint (json_object_get_int_member (peer, "audio_packets"), >=, 180);
      g_assert_cmpint (json_object_get_int_member (peer, "decoded_video_frames"), >, 0);
    }
}

/* WebTransport carries; the relay is killed and restarted with the same
 * ports and key (so its stateless reset tells clients at once): both
 * clients come back over WebTransport and hear each other again. */
static void
test_relay_restart_webtransport (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabWtServer) identity = confab_wt_server_new (NULL, NULL, &error);
  g_autofree char *dir = g_dir_make_tmp ("confab-election-XXXXXX", &error);
  g_autofree char *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "key.pem", NULL);
  g_autofree char *cert_pem = confab_wt_server_dup_cert_pem (identity);
  g_autofree char *key_pem = confab_wt_server_dup_key_pem (identity);
  g_autofree char *hash = confab_wt_server_dup_cert_hash_base64 (identity);
  guint16 wt_port;
  g_autofree char *wt_port_str = udp_port_arg (&wt_port);
  const char *args[] = { "--wt-port", wt_port_str, "--cert", cert, "--key", key, NULL };
  g_autoptr (LoggedRelay) relay = NULL;
  g_autoptr (LoggedRelay) again = NULL;
  g_autofree char *room = confab_test_unique_room ("cli-wt-restart");
  g_autofree char *url_a = NULL;
  g_autofree char *url_b = NULL;
  g_autoptr (ConfabTestCli) a = NULL;
  g_autoptr (ConfabTestCli) b = NULL;
  ConfabTestCli *runs[2];
  gint64 kill_us, up_us;

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (cert, cert_pem, -1, &error));
  g_assert_true (g_file_set_contents (key, key_pem, -1, &error));
  relay = logged_relay_start (0, args);
  url_a = g_strdup_printf ("https://127.0.0.1:%u/lobby/rae/%s", wt_port, room);
  url_b = g_strdup_printf ("https://127.0.0.1:%u/lobby/sol/%s", wt_port, room);
  a = confab_test_cli_start ("join", url_a, "--cert-hash", hash, "--duration", "10", "--size",
                             "320x180", NULL);
  b = confab_test_cli_start ("join", url_b, "--cert-hash", hash, "--duration", "10", "--size",
                             "320x180", NULL);
  runs[0] = a;
  runs[1] = b;
  run_for (3000);
  kill_us = g_get_monotonic_time ();
  logged_relay_stop_process (relay, TRUE);
  run_for (500);
  again = logged_relay_start (relay->port, args);
  up_us = g_get_monotonic_time ();
  for (guint i = 0; i < 2; i++)
    confab_test_cli_wait (runs[i], 30000);
  for (guint l = 0; l < again->lines->len; l++)
    g_test_message ("restarted relay: %s", (char *) g_ptr_array_index (again->lines, l));
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *peer =
          peer_with_session (runs[i]->summary, confab_test_json_session_id (runs[1 - i]->summary));
      const char *who = i == 0 ? "user=rae" : "user=sol";
      gint64 back_us = 0;

      g_assert_cmpint (runs[i]->status, ==, 0);
      g_assert_cmpstr (json_object_get_string_member (runs[i]->summary, "transport"), ==,
                       "webtransport");
      g_assert_cmpint (json_object_get_int_member (runs[i]->summary, "reconnects"), >=, 1);
      for (guint l = 0; l < again->lines->len && back_us == 0; l++)
        if (strstr (g_ptr_array_index (again->lines, l), "activate") != NULL &&
            strstr (g_ptr_array_index (again->lines, l), who) != NULL)
          back_us = g_array_index (again->line_us, gint64, l);
      g_assert_cmpint (back_us, >, 0);
      g_test_message ("%s active again over WebTransport %.0f ms after the kill (%.0f ms after "
                      "the relay was up)",
                      who, (back_us - kill_us) / 1000.0, (back_us - up_us) / 1000.0);
      g_assert_nonnull (peer);
      g_assert_cmpint (json_object_get_int_member (peer, "video_frames"), >=, 30);
      g_assert_cmpint (json_object_get_int_member (peer, "audio_packets"), >=, 50);
    }
  g_unlink (cert);
  g_unlink (key);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/election-cli/webtransport-link", test_webtransport_link);
  g_test_add_func ("/election-cli/transport-option", test_transport_option);
  g_test_add_func ("/election-cli/config/prefers-webtransport", test_config_prefers_webtransport);
  g_test_add_func ("/election-cli/config/udp-blocked", test_config_udp_blocked);
  g_test_add_func ("/election-cli/relay-restart", test_relay_restart);
  g_test_add_func ("/election-cli/relay/webtransport-and-mixed", test_relay_webtransport_and_mixed);
  g_test_add_func ("/election-cli/relay/restart-webtransport", test_relay_restart_webtransport);
  g_test_add_func ("/election-cli/relay/nats-mixed", test_relays_nats_mixed);
  return g_test_run ();
}
