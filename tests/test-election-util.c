/* test-election-util.c: a real relay with its log kept, and MockWtRelay. */
#define G_LOG_DOMAIN "test-election"

#include "test-election-util.h"

#include "confab-packet.h"
#include "confab-test-util.h"
#include "confab-test-cli.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the real relay, log kept -------------------------------------------------- */

static void read_next_line (LoggedRelay *relay, GDataInputStream *in);

static void
on_line (GObject *source, GAsyncResult *result, gpointer data)
{
  GDataInputStream *in = G_DATA_INPUT_STREAM (source);
  g_autoptr (GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish_utf8 (in, result, NULL, &error);
  LoggedRelay *relay = data;
  gint64 now = g_get_monotonic_time ();

  if (line == NULL)
    {
      /* EOF or cancelled (then @relay may be gone). */
      g_object_unref (in);
      return;
    }
  g_ptr_array_add (relay->lines, line);
  g_array_append_val (relay->line_us, now);
  read_next_line (relay, in);
}

static void
read_next_line (LoggedRelay *relay, GDataInputStream *in)
{
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, relay->cancellable, on_line, relay);
}

LoggedRelay *
logged_relay_start (guint16 port, const char *const *extra_args)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *port_str = NULL;
  LoggedRelay *relay = g_new0 (LoggedRelay, 1);

  relay->port = port != 0 ? port : confab_test_free_port ();
  relay->ws_base = g_strdup_printf ("ws://127.0.0.1:%u", relay->port);
  relay->lines = g_ptr_array_new_with_free_func (g_free);
  relay->line_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  port_str = g_strdup_printf ("%u", relay->port);
  {
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();

    g_ptr_array_add (argv, (char *) confab_test_relay_path ());
    g_ptr_array_add (argv, "--listen");
    g_ptr_array_add (argv, "127.0.0.1");
    g_ptr_array_add (argv, "--ws-port");
    g_ptr_array_add (argv, port_str);
    /* No WebTransport unless asked (a later --wt-port wins): parallel
     * relays must not fight over 4433. */
    g_ptr_array_add (argv, "--wt-port");
    g_ptr_array_add (argv, "0");
    for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
      g_ptr_array_add (argv, (char *) extra_args[i]);
    g_ptr_array_add (argv, NULL);
    /* A test that fails half-way must not leave a relay behind. */
    relay->process = confab_test_spawnv ((const char *const *) argv->pdata,
                                         G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  }
  g_assert_no_error (error);
  relay->cancellable = g_cancellable_new ();
  read_next_line (relay, g_data_input_stream_new (g_subprocess_get_stderr_pipe (relay->process)));
  g_assert_true (confab_test_wait_for_port (relay->port, 10000));
  return relay;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

static void
on_terminated (GObject *source, GAsyncResult *result, gpointer data)
{
  LoggedRelay *relay = data;
  GSubprocess *process = G_SUBPROCESS (source);

  g_subprocess_wait_finish (process, result, NULL);
  relay->exit_us = g_get_monotonic_time ();
  relay->exit_status =
      g_subprocess_get_if_exited (process) ? g_subprocess_get_exit_status (process) : -1;
  relay->exited = TRUE;
}

void
logged_relay_terminate (LoggedRelay *relay)
{
  g_assert_nonnull (relay->process);
  g_subprocess_send_signal (relay->process, SIGTERM);
  g_subprocess_wait_async (relay->process, NULL, on_terminated, relay);
}

void
logged_relay_stop_process (LoggedRelay *relay, gboolean kill)
{
  gboolean exited = FALSE;

  if (relay->process == NULL)
    return;
  if (relay->exited || g_subprocess_get_identifier (relay->process) == NULL)
    {
      g_clear_object (&relay->process);
      return;
    }
  if (kill)
    g_subprocess_force_exit (relay->process);
  else
    g_subprocess_send_signal (relay->process, SIGTERM);
  g_subprocess_wait_async (relay->process, NULL, on_exited, &exited);
  if (!confab_test_run_until (&exited, 5000))
    {
      g_subprocess_force_exit (relay->process);
      confab_test_run_until (&exited, 5000);
    }
  g_assert_true (exited);
  g_clear_object (&relay->process);
}

void
logged_relay_free (LoggedRelay *relay)
{
  if (relay == NULL)
    return;
  logged_relay_stop_process (relay, FALSE);
  g_cancellable_cancel (relay->cancellable);
  /* Let the cancelled read finish while @relay is still alive. */
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_clear_object (&relay->cancellable);
  g_ptr_array_unref (relay->lines);
  g_array_unref (relay->line_us);
  g_free (relay->ws_base);
  g_free (relay);
}

gint64
logged_relay_find (LoggedRelay *relay, const char *word, const char *room, gint64 since_us)
{
  for (guint i = 0; i < relay->lines->len; i++)
    {
      const char *line = g_ptr_array_index (relay->lines, i);
      gint64 at = g_array_index (relay->line_us, gint64, i);

      if (at >= since_us && strstr (line, word) != NULL && strstr (line, room) != NULL)
        return at;
    }
  return 0;
}

/* ---- MockWtRelay -------------------------------------------------------------------- */

static void
mock_session_free (MockWtSession *ms)
{
  g_signal_handlers_disconnect_by_data (ms->session, ms);
  g_object_unref (ms->session);
  g_free (ms);
}

static GBytes *
rtt_echo_at (double timestamp)
{
  ConfabMediaPacket media;
  g_autoptr (GBytes) inner = NULL;
  gsize len;
  const guint8 *data;

  confab__media_packet__init (&media);
  media.media_type = CONFAB_MEDIA_RTT;
  media.timestamp = timestamp;
  inner = confab_message_pack (&media.base);
  data = g_bytes_get_data (inner, &len);
  return confab_packet_wrap (CONFAB_PACKET_MEDIA, "x", 0, data, len);
}

/* Junk, truncated protobuf, a SESSION_ASSIGNED without a session and RTT
 * "echoes" from the future, the past and nowhere: none may crash, carry
 * the call or count as a sample. */
static void
send_garbage (MockWtSession *ms)
{
  static const guint8 truncated[][6] = {
    { 0x08 }, { 0x08, 0x80 }, { 0x1a, 0x05, 0x01 }, { 0x08, 0x08, 0x20 }, { 0xff, 0xff, 0xff },
  };
  static const double lies[] = { 1e300, -1e300, 0.0, NAN, INFINITY };

  for (guint i = 0; i < 300; i++)
    {
      guint8 junk[64];
      gsize len = g_random_int_range (0, sizeof junk);
      g_autoptr (GBytes) bytes = NULL;

      for (gsize j = 0; j < len; j++)
        junk[j] = g_random_int_range (0, 256);
      bytes = g_bytes_new (junk, len);
      /* An empty datagram trips an assertion inside ngtcp2 0.12
       * (ngtcp2_pkt_encode_datagram_frame): empty ones go on streams. */
      if (i % 2 == 0 && len > 0)
        confab_wt_session_send_datagram (ms->session, bytes);
      else
        confab_wt_session_send_stream (ms->session, bytes);
    }
  for (guint i = 0; i < G_N_ELEMENTS (truncated); i++)
    {
      g_autoptr (GBytes) bytes = g_bytes_new (truncated[i], 1 + i % 3);
      confab_wt_session_send_stream (ms->session, bytes);
    }
  {
    g_autoptr (GBytes) zero = confab_packet_new_session_assigned (0);
    confab_wt_session_send_stream (ms->session, zero);
  }
  for (guint i = 0; i < G_N_ELEMENTS (lies); i++)
    {
      g_autoptr (GBytes) lie = rtt_echo_at (lies[i]);
      confab_wt_session_send_datagram (ms->session, lie);
    }
}

static gboolean
send_assigned (gpointer data)
{
  MockWtSession *ms = data;
  g_autoptr (GBytes) packet = confab_packet_new_session_assigned (ms->id);

  if (ms->closed)
    return G_SOURCE_REMOVE;
  if (g_object_get_data (G_OBJECT (ms->session), "garbage") != NULL)
    send_garbage (ms);
  g_assert_true (confab_wt_session_send_stream (ms->session, packet));
  return G_SOURCE_REMOVE;
}

static void
on_mock_ready (ConfabWtSession *session, MockWtSession *ms)
{
  ms->ready_us = g_get_monotonic_time ();
}

static void
on_mock_packet (ConfabWtSession *session, GBytes *bytes, gboolean datagram, MockWtSession *ms)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  ConfabPacketWrapper *wrapper = confab__packet_wrapper__unpack (NULL, len, data);
  ConfabMediaPacket *media = NULL;
  gboolean rtt;

  g_assert_nonnull (wrapper);
  if (wrapper->packet_type == CONFAB_PACKET_MEDIA)
    media = confab__media_packet__unpack (NULL, wrapper->data.len, wrapper->data.data);
  rtt = media != NULL && media->media_type == CONFAB_MEDIA_RTT;
  if (rtt && GPOINTER_TO_INT (g_object_get_data (G_OBJECT (session), "echo")))
    {
      /* PROTOCOL.md §4.3: the same bytes, back the way they came. */
      if (datagram)
        confab_wt_session_send_datagram (session, bytes);
      else
        confab_wt_session_send_stream (session, bytes);
      ms->rtt_echoed++;
    }
  else if (!rtt)
    {
      if (ms->first_non_rtt_us == 0)
        ms->first_non_rtt_us = g_get_monotonic_time ();
      ms->non_rtt++;
    }
  if (media != NULL)
    confab__media_packet__free_unpacked (media, NULL);
  confab__packet_wrapper__free_unpacked (wrapper, NULL);
}

static void
on_mock_closed (ConfabWtSession *session, const GError *error, MockWtSession *ms)
{
  ms->closed = TRUE;
}

static guint
mock_request (ConfabWtServer *server, ConfabWtSession *session, const char *path, gpointer data)
{
  MockWtRelay *mock = data;
  MockWtSession *ms;

  if (!g_str_has_prefix (path, "/lobby/"))
    return 404;
  ms = g_new0 (MockWtSession, 1);
  ms->session = g_object_ref (session);
  ms->id = g_random_int () | ((guint64) g_random_int () << 32) | 1;
  g_object_set_data (G_OBJECT (session), "echo", GINT_TO_POINTER (mock->echo));
  g_object_set_data (G_OBJECT (session), "garbage", GINT_TO_POINTER (mock->garbage));
  g_signal_connect (session, "ready", G_CALLBACK (on_mock_ready), ms);
  g_signal_connect (session, "packet", G_CALLBACK (on_mock_packet), ms);
  g_signal_connect (session, "closed", G_CALLBACK (on_mock_closed), ms);
  g_ptr_array_add (mock->sessions, ms);
  /* The relay sends SESSION_ASSIGNED at once (PROTOCOL.md §4.1); the delay
   * stands for a slower path. The session is answered when we return, so
   * even "at once" goes through the loop. */
  {
    GSource *timer = g_timeout_source_new (mock->assign_delay_ms);

    g_source_set_callback (timer, send_assigned, ms, NULL);
    g_source_attach (timer, NULL);
    g_ptr_array_add (mock->timers, timer);
  }
  return 200;
}

MockWtRelay *
mock_wt_relay_new (void)
{
  g_autoptr (GError) error = NULL;
  MockWtRelay *mock = g_new0 (MockWtRelay, 1);

  mock->server = confab_wt_server_new (NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (confab_wt_server_listen (mock->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  confab_wt_server_set_request_func (mock->server, mock_request, mock, NULL);
  mock->hash = confab_wt_server_dup_cert_hash_base64 (mock->server);
  mock->base = g_strdup_printf ("https://127.0.0.1:%u", confab_wt_server_get_port (mock->server));
  mock->echo = TRUE;
  mock->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) mock_session_free);
  mock->timers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  return mock;
}

void
mock_wt_relay_free (MockWtRelay *mock)
{
  if (mock == NULL)
    return;
  /* Pending SESSION_ASSIGNED timers point at the sessions. */
  for (guint i = 0; i < mock->timers->len; i++)
    g_source_destroy (g_ptr_array_index (mock->timers, i));
  g_ptr_array_unref (mock->timers);
  g_ptr_array_unref (mock->sessions);
  g_clear_object (&mock->server);
  g_free (mock->hash);
  g_free (mock->base);
  g_free (mock);
}

MockWtSession *
mock_wt_relay_find (MockWtRelay *mock, const char *needle)
{
  for (guint i = mock->sessions->len; i > 0; i--)
    {
      MockWtSession *ms = g_ptr_array_index (mock->sessions, i - 1);

      if (strstr (confab_wt_session_get_path (ms->session), needle) != NULL)
        return ms;
    }
  return NULL;
}

/* ---- UDP ---------------------------------------------------------------------------- */

GSocket *
udp_black_hole (guint16 *port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  GSocket *socket =
      g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return socket;
}

guint16
unused_udp_port (void)
{
  guint16 port;
  GSocket *socket = udp_black_hole (&port);

  g_object_unref (socket);
  return port;
}

static gboolean
on_wait_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

double
time_scale (void)
{
  return g_getenv ("CONFAB_UNDER_VALGRIND") != NULL ? 10.0 : 1.0;
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

void
run_for (guint ms)
{
  wait_for (never, NULL, ms);
}

gboolean
wait_for (gboolean (*pred) (gpointer), gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_wait_timeout, &timed_out);

  while (!pred (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return pred (data);
}

/* ---- the relay's certificate hash, a mock origin, summaries ---------------------- */

static gboolean
relay_logged_hash (gpointer data)
{
  return logged_relay_find (data, "sha-256 ", "", 0) != 0;
}

/* The certificate hash the relay prints at start (the one /config.js
 * publishes), for a direct https:// link. */
char *
logged_relay_cert_hash (LoggedRelay *relay)
{
  wait_for (relay_logged_hash, relay, 3000);
  for (guint i = 0; i < relay->lines->len; i++)
    {
      const char *line = g_ptr_array_index (relay->lines, i);
      const char *at = strstr (line, "sha-256 ");

      if (at != NULL)
        return g_strndup (at + 8, strcspn (at + 8, ")"));
    }
  return NULL;
}

/* ---- a mock origin: serves /config.js and nothing else ------------------------------ */

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer data)
{
  MockOrigin *origin = data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autoptr (GString) request = g_string_new (NULL);
  g_autofree char *response = NULL;
  char buf[1024];

  /* Bounded: one request head of at most a few KiB. */
  while (strstr (request->str, "\r\n\r\n") == NULL && request->len < 8192)
    {
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL);

      if (n <= 0)
        return TRUE;
      g_string_append_len (request, buf, n);
    }
  origin->requests++;
  if (g_str_has_prefix (request->str, "GET /config.js "))
    response = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\n"
                                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                strlen (origin->body), origin->body);
  else
    response =
        g_strdup ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  g_output_stream_write_all (out, response, strlen (response), NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

MockOrigin *
mock_origin_new (const char *ws_url, const char *wt_hosts, const char *hash)
{
  g_autoptr (GError) error = NULL;
  MockOrigin *origin = g_new0 (MockOrigin, 1);

  origin->body =
      g_strdup_printf ("window.__APP_CONFIG = {\"wsUrl\":\"%s\",\"webTransportHost\":\"%s\","
                       "\"webTransportEnabled\":true,\"webTransportCertificateHash\":\"%s\","
                       "\"e2eeEnabled\":false,\"serverVersion\":\"mock\"};\n",
                       ws_url, wt_hosts, hash != NULL ? hash : "");
  origin->service = g_socket_service_new ();
  origin->port = confab_test_free_port ();
  {
    g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, origin->port);

    g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (origin->service), address,
                                                  G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                                  NULL, &error));
    g_assert_no_error (error);
  }
  g_signal_connect (origin->service, "incoming", G_CALLBACK (on_incoming), origin);
  g_socket_service_start (origin->service);
  return origin;
}

void
mock_origin_free (MockOrigin *origin)
{
  g_socket_service_stop (origin->service);
  g_socket_listener_close (G_SOCKET_LISTENER (origin->service));
  g_object_unref (origin->service);
  g_free (origin->body);
  g_free (origin);
}

JsonObject *
peer_with_session (JsonObject *summary, guint64 session_id)
{
  JsonArray *peers = json_object_get_array_member (summary, "peers");

  for (guint i = 0; i < json_array_get_length (peers); i++)
    {
      JsonObject *peer = json_array_get_object_element (peers, i);

      if (confab_test_json_session_id (peer) == session_id)
        return peer;
    }
  return NULL;
}
