/* test-wt.c: a real WebTransport server and client in one process over
 * 127.0.0.1: CONNECT accepted and refused, messages from 1 byte to 1 MB on
 * unidirectional streams, datagrams, many messages, session close both ways,
 * the QUIC idle timeout, certificate pinning, and garbage datagrams thrown at
 * the server port. The server echoes each message the way it came. */
#include "confab-h3.h"
#include "confab-wt-client.h"
#include "confab-wt-private.h"
#include "confab-wt-server.h"
#include "confab-wt-transport.h"

#include <stdlib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/resource.h>

typedef struct
{
  ConfabWtServer *server;
  char *hash;
  char *url_base;
  GPtrArray *server_sessions; /* accepted sessions, owned */
  guint server_closed;
  guint32 server_close_code;
  GError *server_close_error;
  gboolean echo;
} Fixture;

typedef struct
{
  ConfabWtSession *session;
  gboolean ready;
  gboolean closed;
  GError *error;
  GPtrArray *streams;   /* GBytes received on streams */
  GPtrArray *datagrams; /* GBytes received as datagrams */
} Client;

/* ---- helpers -------------------------------------------------------------- */

typedef gboolean (*Predicate) (gpointer data);

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Spins the main context until pred() holds or timeout_ms passes. */
static gboolean
run_until (Predicate pred, gpointer data, guint timeout_ms)
{
  gboolean late = FALSE;
  guint id = g_timeout_add (timeout_ms, on_deadline, &late);

  while (!pred (data) && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (id);
  return pred (data);
}

static void
server_session_packet (ConfabWtSession *session, GBytes *message, gboolean datagram, Fixture *fx)
{
  if (!fx->echo)
    return;
  if (datagram)
    confab_wt_session_send_datagram (session, message);
  else
    g_assert_true (confab_wt_session_send_stream (session, message));
}

static void
server_session_closed (ConfabWtSession *session, const GError *error, Fixture *fx)
{
  fx->server_closed++;
  fx->server_close_code = confab_wt_session_get_close_code (session);
  g_clear_error (&fx->server_close_error);
  if (error != NULL)
    fx->server_close_error = g_error_copy (error);
}

static guint
server_request (ConfabWtServer *server, ConfabWtSession *session, const char *path, gpointer data)
{
  Fixture *fx = data;

  if (g_str_has_prefix (path, "/refuse"))
    return 400;
  if (g_str_has_prefix (path, "/forbidden"))
    return 403;
  if (!g_str_has_prefix (path, "/lobby/"))
    return 404;
  g_signal_connect (session, "packet", G_CALLBACK (server_session_packet), fx);
  g_signal_connect (session, "closed", G_CALLBACK (server_session_closed), fx);
  g_ptr_array_add (fx->server_sessions, g_object_ref (session));
  return 200;
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fx->server = confab_wt_server_new (NULL, NULL, &error);
  g_assert_no_error (error);
  if (data != NULL)
    confab_wt_server_set_idle_timeout (fx->server, GPOINTER_TO_UINT (data));
  g_assert_true (confab_wt_server_listen (fx->server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  confab_wt_server_set_request_func (fx->server, server_request, fx, NULL);
  fx->hash = confab_wt_server_dup_cert_hash_base64 (fx->server);
  fx->url_base = g_strdup_printf ("https://127.0.0.1:%u", confab_wt_server_get_port (fx->server));
  fx->server_sessions = g_ptr_array_new_with_free_func (g_object_unref);
  fx->echo = TRUE;
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  g_ptr_array_unref (fx->server_sessions);
  g_clear_object (&fx->server);
  g_clear_error (&fx->server_close_error);
  g_free (fx->hash);
  g_free (fx->url_base);
}

static void
client_packet (ConfabWtSession *session, GBytes *message, gboolean datagram, Client *cl)
{
  g_ptr_array_add (datagram ? cl->datagrams : cl->streams, g_bytes_ref (message));
}

static void
client_ready (ConfabWtSession *session, Client *cl)
{
  cl->ready = TRUE;
}

static void
client_closed (ConfabWtSession *session, const GError *error, Client *cl)
{
  cl->closed = TRUE;
  if (error != NULL)
    cl->error = g_error_copy (error);
}

static gboolean
client_settled (gpointer data)
{
  Client *cl = data;

  return cl->ready || cl->closed;
}

static gboolean
client_is_closed (gpointer data)
{
  return ((Client *) data)->closed;
}

static Client *
client_start (Fixture *fx, const char *path, const ConfabWtClientOptions *opts)
{
  ConfabWtClientOptions defaults = { .cert_hash = fx->hash };
  g_autofree char *url = g_strconcat (fx->url_base, path, NULL);
  g_autoptr (GError) error = NULL;
  Client *cl = g_new0 (Client, 1);

  cl->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  cl->datagrams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  cl->session = confab_wt_client_connect (url, opts != NULL ? opts : &defaults, &error);
  g_assert_no_error (error);
  g_signal_connect (cl->session, "ready", G_CALLBACK (client_ready), cl);
  g_signal_connect (cl->session, "packet", G_CALLBACK (client_packet), cl);
  g_signal_connect (cl->session, "closed", G_CALLBACK (client_closed), cl);
  g_assert_true (run_until (client_settled, cl, 5000));
  return cl;
}

static void
client_free (Client *cl)
{
  g_signal_handlers_disconnect_by_data (cl->session, cl);
  g_object_unref (cl->session);
  g_ptr_array_unref (cl->streams);
  g_ptr_array_unref (cl->datagrams);
  g_clear_error (&cl->error);
  g_free (cl);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

typedef struct
{
  GPtrArray *array;
  guint n;
} CountWait;

static gboolean
count_reached (gpointer data)
{
  CountWait *w = data;

  return w->array->len >= w->n;
}

static gboolean
send_text (ConfabWtSession *session, const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));

  return confab_wt_session_send_stream (session, b);
}

static GBytes *
pattern (gsize size, guint seed)
{
  guint8 *data = g_malloc (size ? size : 1);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 31 + seed + (i >> 8));
  return g_bytes_new_take (data, size);
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_connect_accepted (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/alice/room1?x=1", NULL);

  g_assert_no_error (cl->error);
  g_assert_true (cl->ready);
  g_assert_true (confab_wt_session_is_open (cl->session));
  g_assert_cmpuint (confab_wt_session_get_status (cl->session), ==, 200);
  g_assert_cmpuint (fx->server_sessions->len, ==, 1);
  g_assert_cmpstr (confab_wt_session_get_path (g_ptr_array_index (fx->server_sessions, 0)), ==,
                   "/lobby/alice/room1?x=1");
  g_assert_cmpuint (confab_wt_server_get_n_connections (fx->server), ==, 1);
  {
    g_autofree char *peer =
        confab_wt_session_dup_peer_address (g_ptr_array_index (fx->server_sessions, 0));
    g_autofree char *server_addr = confab_wt_session_dup_peer_address (cl->session);
    g_autofree char *want =
        g_strdup_printf ("127.0.0.1:%u", confab_wt_server_get_port (fx->server));

    g_assert_true (g_str_has_prefix (peer, "127.0.0.1:"));
    g_assert_cmpstr (server_addr, ==, want);
  }
}

static void
test_connect_refused (Fixture *fx, gconstpointer data)
{
  static const struct
  {
    const char *path;
    guint status;
  } cases[] = {
    { "/refuse", 400 },
    { "/forbidden", 403 },
    { "/nothing-here", 404 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (Client) cl = client_start (fx, cases[i].path, NULL);

      g_assert_false (cl->ready);
      g_assert_true (cl->closed);
      g_assert_error (cl->error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_REFUSED);
      g_assert_cmpuint (confab_wt_session_get_status (cl->session), ==, cases[i].status);
      g_assert_false (send_text (cl->session, "x"));
    }
  g_assert_cmpuint (fx->server_sessions->len, ==, 0);
}

static void
test_stream_sizes (Fixture *fx, gconstpointer data)
{
  static const gsize sizes[] = { 1, 2, 100, 1199, 1200, 1201, 16384, 65536, 300000, 1000000 };
  g_autoptr (Client) cl = client_start (fx, "/lobby/bob/sizes", NULL);
  CountWait w = { cl->streams, G_N_ELEMENTS (sizes) };

  g_assert_true (cl->ready);
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) msg = pattern (sizes[i], (guint) i);

      g_assert_true (confab_wt_session_send_stream (cl->session, msg));
    }
  g_assert_true (run_until (count_reached, &w, 20000));
  /* Each echo comes back whole and intact; streams may overtake each other. */
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) want = pattern (sizes[i], (guint) i);
      gboolean found = FALSE;

      for (guint j = 0; j < cl->streams->len && !found; j++)
        found = g_bytes_equal (want, g_ptr_array_index (cl->streams, j));
      g_assert_true (found);
    }
  g_assert_cmpuint (cl->streams->len, ==, G_N_ELEMENTS (sizes));
  /* Too large for one packet (PROTOCOL.md §1) is refused up front. */
  {
    g_autoptr (GBytes) huge = g_bytes_new_take (g_malloc0 (CONFAB_WT_MAX_MESSAGE_SIZE + 1),
                                                CONFAB_WT_MAX_MESSAGE_SIZE + 1);

    g_assert_false (confab_wt_session_send_stream (cl->session, huge));
  }
}

static void
test_datagrams (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/carol/dgram", NULL);
  CountWait w = { cl->datagrams, 20 };
  gsize max;

  g_assert_true (cl->ready);
  max = confab_wt_session_get_max_datagram_size (cl->session);
  g_test_message ("max datagram payload now: %" G_GSIZE_FORMAT, max);
  g_assert_cmpuint (max, >=, 1000);
  g_assert_cmpuint (max, <=, CONFAB_WT_MAX_DATAGRAM_SIZE);
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr (GBytes) msg = pattern (i == 0 ? max : 1 + i * 40, i);

      g_assert_true (confab_wt_session_send_datagram (cl->session, msg));
    }
  {
    g_autoptr (GBytes) too_big = pattern (max + 1, 0);

    g_assert_false (confab_wt_session_send_datagram (cl->session, too_big));
  }
  /* Loopback does not lose 20 small datagrams: all echoes arrive, intact. */
  g_assert_true (run_until (count_reached, &w, 5000));
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr (GBytes) want = pattern (i == 0 ? max : 1 + i * 40, i);
      gboolean found = FALSE;

      for (guint j = 0; j < cl->datagrams->len && !found; j++)
        found = g_bytes_equal (want, g_ptr_array_index (cl->datagrams, j));
      g_assert_true (found);
    }
  g_assert_cmpuint (cl->streams->len, ==, 0);
}

static void
test_many_messages (Fixture *fx, gconstpointer data)
{
  /* CONFAB_WT_BENCH_N raises the count for a measurement run. */
  const guint n =
      g_getenv ("CONFAB_WT_BENCH_N") ? (guint) atoi (g_getenv ("CONFAB_WT_BENCH_N")) : 2000;
  /* ...and CONFAB_WT_BENCH_SIZE the message size (>= 4, default 200 B). */
  const guint msg_size =
      MAX (4, g_getenv ("CONFAB_WT_BENCH_SIZE") ? (guint) atoi (g_getenv ("CONFAB_WT_BENCH_SIZE"))
                                                : 200);
  g_autoptr (Client) cl = client_start (fx, "/lobby/dave/many", NULL);
  g_autofree guint8 *body = g_malloc0 (msg_size);
  CountWait w = { cl->streams, n };
  g_autofree guint8 *seen = g_malloc0 (n);
  guint in_order = 0, sent = 0;
  struct rusage ru0, ru1;
  gint64 start;
  double secs, cpu;

  g_assert_true (cl->ready);
  getrusage (RUSAGE_SELF, &ru0);
  start = g_get_monotonic_time ();
  while (sent < n)
    {
      guint32 seq = GUINT32_TO_BE (sent);
      g_autoptr (GBytes) msg = NULL;

      /* Keep at most 256 messages in flight so neither side's bounded
       * queue refuses (the echo asserts that it never does). */
      if (sent - cl->streams->len >= 256)
        {
          g_main_context_iteration (NULL, TRUE);
          continue;
        }
      memcpy (body, &seq, sizeof seq);
      msg = g_bytes_new (body, msg_size);
      if (confab_wt_session_send_stream (cl->session, msg))
        sent++;
      else
        g_main_context_iteration (NULL, TRUE);
    }
  g_assert_true (run_until (count_reached, &w, 30000));
  secs = (g_get_monotonic_time () - start) / 1e6;
  getrusage (RUSAGE_SELF, &ru1);
  cpu =
      (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
      (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) /
          1e6;
  for (guint i = 0; i < cl->streams->len; i++)
    {
      gsize size;
      const guint8 *d = g_bytes_get_data (g_ptr_array_index (cl->streams, i), &size);
      guint32 seq;

      g_assert_cmpuint (size, ==, msg_size);
      memcpy (&seq, d, sizeof seq);
      seq = GUINT32_FROM_BE (seq);
      g_assert_cmpuint (seq, <, n);
      g_assert_false (seen[seq]); /* exactly once */
      seen[seq] = 1;
      if (seq == i)
        in_order++;
    }
  g_test_message ("%u round trips of %u B in %.3f s = %.0f msg/s each way; %u in send order; "
                  "CPU %.3f s for both ends = %.1f us per message (send+receive, both sides)",
                  n, msg_size, secs, n / secs, in_order, cpu, cpu * 1e6 / (2.0 * n));
  g_assert_cmpuint (cl->streams->len, ==, n);
}

static gboolean
server_closed_once (gpointer data)
{
  return ((Fixture *) data)->server_closed >= 1;
}

static void
test_close_by_client (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/erin/close", NULL);

  g_assert_true (cl->ready);
  confab_wt_session_close (cl->session, 42, "bye now");
  g_assert_true (cl->closed);
  g_assert_no_error (cl->error);
  g_assert_false (send_text (cl->session, "x"));
  g_assert_true (run_until (server_closed_once, fx, 5000));
  g_assert_cmpuint (fx->server_close_code, ==, 42);
  g_assert_error (fx->server_close_error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CLOSED);
  g_assert_cmpstr (confab_wt_session_get_close_reason (g_ptr_array_index (fx->server_sessions, 0)),
                   ==, "bye now");
}

static gboolean
no_connections (gpointer data)
{
  return confab_wt_server_get_n_connections (((Fixture *) data)->server) == 0;
}

static void
test_close_by_server (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/frank/close", NULL);

  g_assert_true (cl->ready);
  confab_wt_session_close (g_ptr_array_index (fx->server_sessions, 0), 0, "");
  g_assert_true (run_until (client_is_closed, cl, 5000));
  g_assert_no_error (cl->error);
  g_assert_cmpuint (confab_wt_session_get_close_code (cl->session), ==, 0);
  /* The connection itself goes away after the session. */
  g_assert_true (run_until (no_connections, fx, 5000));
}

static void
test_idle_timeout (Fixture *fx, gconstpointer data)
{
  ConfabWtClientOptions opts = { .cert_hash = fx->hash, .idle_timeout_ms = 400 };
  g_autoptr (Client) cl = client_start (fx, "/lobby/gina/idle", &opts);
  gint64 start = g_get_monotonic_time ();

  g_assert_true (cl->ready);
  g_assert_true (run_until (client_is_closed, cl, 5000));
  g_assert_error (cl->error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);
  g_assert_true (run_until (server_closed_once, fx, 5000));
  g_assert_true (run_until (no_connections, fx, 5000));
}

static void
test_keep_alive (Fixture *fx, gconstpointer data)
{
  ConfabWtClientOptions opts = { .cert_hash = fx->hash,
                                 .idle_timeout_ms = 400,
                                 .keep_alive_ms = 100 };
  g_autoptr (Client) cl = client_start (fx, "/lobby/hank/keepalive", &opts);

  g_assert_true (cl->ready);
  /* Three idle timeouts pass; pings keep the session up. */
  run_until (client_is_closed, cl, 1200);
  g_assert_false (cl->closed);
  g_assert_true (send_text (cl->session, "ok"));
}

static void
test_pin_mismatch (Fixture *fx, gconstpointer data)
{
  ConfabWtClientOptions opts = { .cert_hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" };
  ConfabWtClientOptions none = { 0 };
  g_autoptr (Client) cl = client_start (fx, "/lobby/ivan/pin", &opts);
  g_autoptr (Client) cl2 = client_start (fx, "/lobby/ivan/pin", &none);
  ConfabWtClientOptions insecure = { .insecure = TRUE };
  g_autoptr (Client) cl3 = client_start (fx, "/lobby/ivan/pin", &insecure);

  g_assert_false (cl->ready);
  g_assert_error (cl->error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CERTIFICATE);
  /* Full verification fails for a self-signed certificate. */
  g_assert_false (cl2->ready);
  g_assert_error (cl2->error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CERTIFICATE);
  g_assert_true (cl3->ready);
  g_assert_cmpuint (fx->server_sessions->len, ==, 1);
}

static void
test_garbage (Fixture *fx, gconstpointer data)
{
  g_autoptr (GSocket) sock =
      g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) to =
      g_inet_socket_address_new (lo, confab_wt_server_get_port (fx->server));
  GRand *rand = g_rand_new_with_seed (1234);
  guint8 buf[1500];

  for (guint i = 0; i < 3000; i++)
    {
      gsize len = g_rand_int_range (rand, 0, sizeof buf + 1);

      for (gsize j = 0; j < len; j++)
        buf[j] = (guint8) g_rand_int (rand);
      /* A third look like QUIC v1 Initials, so they get past the header check. */
      if (len >= 1200 && i % 3 == 0)
        {
          buf[0] = 0xc0 | (buf[0] & 0x0f);
          memcpy (buf + 1, "\x00\x00\x00\x01", 4);
          buf[5] = 8;
          buf[14] = 8;
        }
      g_socket_send_to (sock, to, (const char *) buf, len, NULL, NULL);
      if (i % 100 == 0)
        while (g_main_context_iteration (NULL, FALSE))
          ;
    }
  g_rand_free (rand);
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;

  /* The junk left no connection behind (the Initial-shaped ones made
   * connections that died on the first undecryptable packet)... */
  g_assert_true (run_until (no_connections, fx, 2000));
  /* ...and the server still serves. */
  {
    g_autoptr (Client) cl = client_start (fx, "/lobby/judy/after-garbage", NULL);
    CountWait w = { cl->streams, 1 };

    g_assert_true (cl->ready);
    g_assert_true (send_text (cl->session, "alive"));
    g_assert_true (run_until (count_reached, &w, 5000));
    g_assert_cmpuint (g_bytes_get_size (g_ptr_array_index (cl->streams, 0)), ==, 5);
  }
}

typedef struct
{
  gboolean connected;
  gboolean closed;
  GError *error;
  GPtrArray *packets;
} TransportState;

static void
tr_connected (ConfabTransport *t, TransportState *ts)
{
  ts->connected = TRUE;
}

static void
tr_packet (ConfabTransport *t, GBytes *packet, TransportState *ts)
{
  g_ptr_array_add (ts->packets, g_bytes_ref (packet));
}

static void
tr_closed (ConfabTransport *t, const GError *error, TransportState *ts)
{
  ts->closed = TRUE;
  if (error != NULL)
    ts->error = g_error_copy (error);
}

static gboolean
tr_settled (gpointer data)
{
  TransportState *ts = data;

  return ts->connected || ts->closed;
}

static gboolean
tr_is_closed (gpointer data)
{
  return ((TransportState *) data)->closed;
}

static void
test_transport (Fixture *fx, gconstpointer data)
{
  g_autofree char *url = g_strconcat (fx->url_base, "/lobby/kim/transport", NULL);
  g_autofree char *bad = g_strconcat (fx->url_base, "/refuse", NULL);
  g_autoptr (GError) error = NULL;
  TransportState ts = { .packets =
                            g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  TransportState rs = { .packets =
                            g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  CountWait w = { ts.packets, 2 };
  g_autoptr (ConfabTransport) t = confab_wt_transport_new (url, fx->hash, FALSE, &error);
  g_autoptr (ConfabTransport) refused = confab_wt_transport_new (bad, fx->hash, FALSE, &error);
  g_autoptr (GBytes) big = pattern (50000, 9);
  g_autoptr (GBytes) small = pattern (40, 10);

  g_assert_no_error (error);
  g_assert_null (confab_wt_transport_new ("ws://127.0.0.1:1/x", NULL, FALSE, &error));
  g_assert_error (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID);
  g_assert_cmpstr (confab_transport_get_kind (t), ==, "webtransport");

  g_signal_connect (t, "connected", G_CALLBACK (tr_connected), &ts);
  g_signal_connect (t, "packet", G_CALLBACK (tr_packet), &ts);
  g_signal_connect (t, "closed", G_CALLBACK (tr_closed), &ts);
  confab_transport_open (t);
  g_assert_true (run_until (tr_settled, &ts, 5000));
  g_assert_true (ts.connected);
  g_assert_true (confab_transport_is_open (t));
  g_assert_true (confab_transport_send (t, big));
  g_assert_true (confab_wt_transport_send_datagram (CONFAB_WT_TRANSPORT (t), small));
  g_assert_true (run_until (count_reached, &w, 5000));
  g_assert_true (g_bytes_equal (big, g_ptr_array_index (ts.packets, 0)) ||
                 g_bytes_equal (big, g_ptr_array_index (ts.packets, 1)));
  confab_transport_close (t);
  g_assert_true (run_until (tr_is_closed, &ts, 5000));
  g_assert_no_error (ts.error);
  g_assert_true (confab_transport_is_closed (t));
  g_assert_false (confab_transport_send (t, small));

  g_signal_connect (refused, "connected", G_CALLBACK (tr_connected), &rs);
  g_signal_connect (refused, "closed", G_CALLBACK (tr_closed), &rs);
  confab_transport_open (refused);
  g_assert_true (run_until (tr_is_closed, &rs, 5000));
  g_assert_false (rs.connected);
  g_assert_error (rs.error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_REFUSED);

  g_clear_error (&ts.error);
  g_clear_error (&rs.error);
  g_ptr_array_unref (ts.packets);
  g_ptr_array_unref (rs.packets);
}

/* A polite close of the transport reaches the peer at once (capsule, FIN,
 * CONNECTION_CLOSE), even when the transport is dropped right after. */
static void
test_transport_close_tells_peer (Fixture *fx, gconstpointer data)
{
  g_autofree char *url = g_strconcat (fx->url_base, "/lobby/lena/polite", NULL);
  g_autoptr (GError) error = NULL;
  TransportState ts = { .packets =
                            g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  ConfabTransport *t = confab_wt_transport_new (url, fx->hash, FALSE, &error);
  gint64 start;
  double session_ms, conn_ms;

  g_assert_no_error (error);
  g_signal_connect (t, "connected", G_CALLBACK (tr_connected), &ts);
  g_signal_connect (t, "closed", G_CALLBACK (tr_closed), &ts);
  confab_transport_open (t);
  g_assert_true (run_until (tr_settled, &ts, 5000));
  g_assert_true (ts.connected);
  g_assert_cmpuint (fx->server_sessions->len, ==, 1);

  start = g_get_monotonic_time ();
  confab_transport_close (t);
  g_assert_true (ts.closed);
  g_assert_no_error (ts.error);
  /* The application lets go at once, as the call layer does. */
  g_signal_handlers_disconnect_by_data (t, &ts);
  g_object_unref (t);

  g_assert_true (run_until (server_closed_once, fx, 1000));
  session_ms = (g_get_monotonic_time () - start) / 1000.0;
  /* The close capsule (code 0: a clean close), not the idle timeout, ended it. */
  g_assert_no_error (fx->server_close_error);
  g_assert_cmpuint (fx->server_close_code, ==, 0);
  g_assert_true (run_until (no_connections, fx, 1000));
  conn_ms = (g_get_monotonic_time () - start) / 1000.0;
  g_test_message ("peer saw the session closed after %.1f ms, the connection after %.1f ms",
                  session_ms, conn_ms);
  g_assert_cmpfloat (session_ms, <, 1000);
  g_assert_cmpfloat (conn_ms, <, 1000);
  g_ptr_array_unref (ts.packets);
}

/* A UDP forwarder between client and server that can turn into a black
 * hole (a firewall, a frozen relay): nothing comes back, not even ICMP. */
typedef struct
{
  GSocket *socket;
  GSource *source;
  GSocketAddress *server;
  GSocketAddress *client;
  gboolean black_hole;
} Forwarder;

static gboolean
forwarder_readable (GSocket *socket, GIOCondition condition, gpointer data)
{
  Forwarder *fw = data;
  guint8 buf[65536];

  for (guint i = 0; i < 64; i++)
    {
      GSocketAddress *from = NULL;
      gssize n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL);
      gboolean from_server;

      if (n < 0)
        break;
      from_server = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)) ==
                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (fw->server));
      if (!from_server && fw->client == NULL)
        fw->client = g_object_ref (from);
      if (!fw->black_hole && (!from_server || fw->client != NULL))
        g_socket_send_to (socket, from_server ? fw->client : fw->server, (const char *) buf,
                          (gsize) n, NULL, NULL);
      g_object_unref (from);
    }
  return G_SOURCE_CONTINUE;
}

static Forwarder *
forwarder_new (guint16 server_port)
{
  Forwarder *fw = g_new0 (Forwarder, 1);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GError) error = NULL;

  fw->socket =
      g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (fw->socket, FALSE);
  g_assert_true (g_socket_bind (fw->socket, any, FALSE, &error));
  fw->server = g_inet_socket_address_new (lo, server_port);
  fw->source = g_socket_create_source (fw->socket, G_IO_IN, NULL);
  g_source_set_callback (fw->source, G_SOURCE_FUNC (forwarder_readable), fw, NULL);
  g_source_attach (fw->source, NULL);
  return fw;
}

static guint16
forwarder_port (Forwarder *fw)
{
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (fw->socket, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

static void
forwarder_free (Forwarder *fw)
{
  g_source_destroy (fw->source);
  g_source_unref (fw->source);
  g_object_unref (fw->socket);
  g_object_unref (fw->server);
  g_clear_object (&fw->client);
  g_free (fw);
}

static gboolean
is_null (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* Nobody answers the close (the path became a black hole): the closed and
 * dropped session still lets its connection and socket go after the 1 s
 * bound, having sent CONNECTION_CLOSE, instead of waiting for a timeout. */
static void
test_close_linger_bounded (Fixture *fx, gconstpointer data)
{
  Forwarder *fw = forwarder_new (confab_wt_server_get_port (fx->server));
  g_autofree char *base = g_strdup_printf ("https://127.0.0.1:%u", forwarder_port (fw));
  g_autofree char *saved = g_steal_pointer (&fx->url_base);
  g_autoptr (Client) cl = NULL;
  gpointer weak = NULL;
  gint64 start;
  double ms;

  fx->url_base = g_strdup (base);
  cl = client_start (fx, "/lobby/pia/hole", NULL);
  g_free (fx->url_base);
  fx->url_base = g_steal_pointer (&saved);
  g_assert_true (cl->ready);

  fw->black_hole = TRUE;
  start = g_get_monotonic_time ();
  confab_wt_session_close (cl->session, 0, "");
  weak = cl->session;
  g_object_add_weak_pointer (weak, &weak);
  g_signal_handlers_disconnect_by_data (cl->session, cl);
  g_clear_object (&cl->session);
  /* Still held: the close has not been answered. */
  g_assert_nonnull (weak);
  g_assert_true (run_until (is_null, &weak, 3000));
  ms = (g_get_monotonic_time () - start) / 1000.0;
  g_test_message ("unanswered close released after %.1f ms", ms);
  g_assert_cmpfloat (ms, >=, 900);
  g_assert_cmpfloat (ms, <, 1500);
  cl->session = g_object_new (CONFAB_TYPE_WT_SESSION, NULL); /* for client_free */
  forwarder_free (fw);
}

static gboolean
has_streams (gpointer data)
{
  return ((Client *) data)->streams->len >= 2;
}

/* An empty message is a valid PacketWrapper (all fields default): on a
 * stream it travels; as a datagram ngtcp2 0.12 would abort, so every datagram
 * path refuses it. Neither crashes nor breaks the session. */
static void
test_empty_message (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/mona/empty", NULL);
  g_autofree char *url = g_strconcat (fx->url_base, "/lobby/nina/empty", NULL);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) after = g_bytes_new_static ("after", 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTransport) t = confab_wt_transport_new (url, fx->hash, FALSE, &error);
  TransportState ts = { .packets =
                            g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  CountWait w = { ts.packets, 2 };
  ConfabWtSession *server_side;

  g_assert_true (cl->ready);
  g_assert_false (confab_wt_session_send_datagram (cl->session, empty));
  g_assert_true (confab_wt_session_send_stream (cl->session, empty));
  server_side = g_ptr_array_index (fx->server_sessions, 0);
  g_assert_false (confab_wt_session_send_datagram (server_side, empty));
  g_assert_true (confab_wt_session_send_stream (cl->session, after));
  /* Both echoed on streams: the empty one intact and empty. */
  g_assert_true (run_until (has_streams, cl, 5000));
  g_assert_cmpuint (g_bytes_get_size (g_ptr_array_index (cl->streams, 0)) +
                        g_bytes_get_size (g_ptr_array_index (cl->streams, 1)),
                    ==, 5);
  g_assert_true (confab_wt_session_is_open (cl->session));
  g_assert_true (confab_wt_session_send_datagram (cl->session, after));

  g_assert_no_error (error);
  g_signal_connect (t, "connected", G_CALLBACK (tr_connected), &ts);
  g_signal_connect (t, "packet", G_CALLBACK (tr_packet), &ts);
  g_signal_connect (t, "closed", G_CALLBACK (tr_closed), &ts);
  confab_transport_open (t);
  g_assert_true (run_until (tr_settled, &ts, 5000));
  g_assert_true (ts.connected);
  g_assert_false (confab_wt_transport_send_datagram (CONFAB_WT_TRANSPORT (t), empty));
  g_assert_true (confab_transport_send (t, empty));
  g_assert_true (confab_transport_send (t, after));
  g_assert_true (run_until (count_reached, &w, 5000));
  g_assert_false (ts.closed);
  g_assert_true (confab_transport_is_open (t));
  confab_transport_close (t);
  g_assert_true (run_until (tr_is_closed, &ts, 5000));
  g_clear_error (&ts.error);
  g_ptr_array_unref (ts.packets);
}

/* Nobody listens on the UDP port: the ICMP port unreachable ends the
 * handshake at once instead of after the 5 s handshake timeout. */
static void
test_port_unreachable (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) probe =
      g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  ConfabWtClientOptions opts = { .insecure = TRUE };
  Client *cl = g_new0 (Client, 1);
  gint64 start;
  double ms;

  /* A port that was free a moment ago and is closed now. */
  g_assert_true (g_socket_bind (probe, any, FALSE, &error));
  bound = g_socket_get_local_address (probe, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("https://127.0.0.1:%u/lobby/olga/nowhere",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (probe, NULL);

  cl->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  cl->datagrams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  start = g_get_monotonic_time ();
  cl->session = confab_wt_client_connect (url, &opts, &error);
  g_assert_no_error (error);
  g_signal_connect (cl->session, "ready", G_CALLBACK (client_ready), cl);
  g_signal_connect (cl->session, "closed", G_CALLBACK (client_closed), cl);
  g_assert_true (run_until (client_is_closed, cl, 1000));
  ms = (g_get_monotonic_time () - start) / 1000.0;
  g_test_message ("connect to a closed port failed after %.1f ms: %s", ms, cl->error->message);
  g_assert_false (cl->ready);
  g_assert_error (cl->error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CONNECT);
  g_assert_cmpfloat (ms, <, 500);
  client_free (cl);
}

static void
client_draining (ConfabWtSession *session, gboolean *flag)
{
  *flag = TRUE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
test_drain (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/lena/drain", NULL);
  ConfabWtSession *server_side;
  CountWait w = { cl->streams, 1 };
  gboolean client_drained = FALSE, server_drained = FALSE;

  g_assert_true (cl->ready);
  server_side = g_ptr_array_index (fx->server_sessions, 0);
  g_signal_connect (cl->session, "draining", G_CALLBACK (client_draining), &client_drained);
  g_signal_connect (server_side, "draining", G_CALLBACK (client_draining), &server_drained);

  /* Server asks to wind down (GOAWAY + DRAIN capsule): the client hears it... */
  confab_wt_session_drain (server_side);
  g_assert_true (run_until (flag_set, &client_drained, 5000));
  g_assert_true (confab_wt_session_is_draining (cl->session));
  /* ...and the session still carries messages until someone closes it. */
  g_assert_true (send_text (cl->session, "still here"));
  g_assert_true (run_until (count_reached, &w, 5000));
  /* The other direction too. */
  confab_wt_session_drain (cl->session);
  g_assert_true (run_until (flag_set, &server_drained, 5000));
  g_assert_false (cl->closed);
  g_signal_handlers_disconnect_by_data (cl->session, &client_drained);
}

static void
test_ipv6 (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabWtServer) server = confab_wt_server_new (NULL, NULL, &error);
  Fixture fx = { 0 };
  g_autofree char *url = NULL;
  g_autoptr (Client) cl = NULL;
  CountWait w;

  g_assert_no_error (error);
  if (!confab_wt_server_listen (server, "::1", 0, &error))
    {
      g_test_skip (error->message);
      return;
    }
  fx.server = server;
  fx.hash = confab_wt_server_dup_cert_hash_base64 (server);
  fx.url_base = g_strdup_printf ("https://[::1]:%u", confab_wt_server_get_port (server));
  fx.server_sessions = g_ptr_array_new_with_free_func (g_object_unref);
  fx.echo = TRUE;
  confab_wt_server_set_request_func (server, server_request, &fx, NULL);

  cl = client_start (&fx, "/lobby/mia/v6", NULL);
  g_assert_true (cl->ready);
  w = (CountWait){ cl->streams, 1 };
  g_assert_true (send_text (cl->session, "over ipv6"));
  g_assert_true (run_until (count_reached, &w, 5000));
  g_clear_pointer (&cl, client_free);
  g_ptr_array_unref (fx.server_sessions);
  g_clear_object (&server); /* its sessions report "closed" into fx */
  g_clear_error (&fx.server_close_error);
  g_free (fx.hash);
  g_free (fx.url_base);
}

/* SHA-256 of the DER inside a PEM certificate, computed independently. */
static char *
pem_der_sha256_base64 (const char *pem)
{
  g_autoptr (GString) b64 = g_string_new (NULL);
  g_auto (GStrv) lines = g_strsplit (pem, "\n", -1);
  g_autofree guchar *der = NULL;
  guint8 digest[32];
  gsize der_len = 0, digest_len = sizeof digest;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gboolean in = FALSE;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "-----BEGIN CERTIFICATE"))
        in = TRUE;
      else if (g_str_has_prefix (lines[i], "-----END CERTIFICATE"))
        break;
      else if (in)
        g_string_append (b64, g_strstrip (lines[i]));
    }
  der = g_base64_decode (b64->str, &der_len);
  g_checksum_update (sum, der, der_len);
  g_checksum_get_digest (sum, digest, &digest_len);
  return g_base64_encode (digest, digest_len);
}

static void
test_certificate (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabWtServer) generated = confab_wt_server_new (NULL, NULL, &error);
  g_autofree char *pem = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *want = NULL;
  g_autofree char *dir = g_dir_make_tmp ("confab-wt-cert-XXXXXX", &error);
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autofree char *out = NULL;
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  int status = 0;

  g_assert_no_error (error);
  /* The generated certificate: the reported hash is the DER's SHA-256, and
   * it is what a browser accepts by hash (checked by openssl below). */
  pem = confab_wt_server_dup_cert_pem (generated);
  hash = confab_wt_server_dup_cert_hash_base64 (generated);
  want = pem_der_sha256_base64 (pem);
  g_assert_cmpstr (hash, ==, want);
  {
    g_autofree char *key_pem = confab_wt_server_dup_key_pem (generated);

    g_assert_nonnull (strstr (key_pem, "PRIVATE KEY-----"));
  }
  if (openssl == NULL)
    {
      g_test_skip ("openssl not installed");
      return;
    }
  cert = g_build_filename (dir, "cert.pem", NULL);
  key = g_build_filename (dir, "key.pem", NULL);
  g_assert_true (g_file_set_contents (cert, pem, -1, NULL));
  {
    const char *argv[] = { openssl, "x509", "-in", cert, "-noout", "-text", NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                                 NULL, &status, &error));
    g_assert_no_error (error);
    g_assert_nonnull (strstr (out, "prime256v1"));
    g_assert_nonnull (strstr (out, "ecdsa-with-SHA256"));
    g_assert_nonnull (strstr (out, "IP Address:127.0.0.1"));
    g_clear_pointer (&out, g_free);
  }
  {
    /* Valid now, and no longer than 14 days (the browser's limit). */
    const char *now_ok[] = { openssl, "x509", "-in", cert, "-noout", "-checkend", "0", NULL };
    const char *d14[] = { openssl, "x509", "-in", cert, "-noout", "-checkend", "1209600", NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) now_ok, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                 NULL, NULL, NULL, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_true (g_spawn_sync (NULL, (char **) d14, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                 NULL, NULL, &status, NULL));
    g_assert_false (g_spawn_check_wait_status (status, NULL));
  }

  /* A certificate from files (--cert/--key): made by openssl, loaded by us,
   * served, and pinned by the hash we report. */
  {
    const char *argv[] = { openssl,
                           "req",
                           "-x509",
                           "-newkey",
                           "ec",
                           "-pkeyopt",
                           "ec_paramgen_curve:prime256v1",
                           "-nodes",
                           "-keyout",
                           key,
                           "-out",
                           cert,
                           "-days",
                           "10",
                           "-subj",
                           "/CN=localhost",
                           NULL };
    g_autoptr (ConfabWtServer) loaded = NULL;
    g_autofree char *file_pem = NULL;
    g_autofree char *loaded_hash = NULL;
    Fixture fx = { 0 };
    g_autoptr (Client) cl = NULL;

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                                 G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                                 NULL, NULL, NULL, &status, &error));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    loaded = confab_wt_server_new (cert, key, &error);
    g_assert_no_error (error);
    g_assert_true (g_file_get_contents (cert, &file_pem, NULL, NULL));
    loaded_hash = confab_wt_server_dup_cert_hash_base64 (loaded);
    g_free (want);
    want = pem_der_sha256_base64 (file_pem);
    g_assert_cmpstr (loaded_hash, ==, want);

    g_assert_true (confab_wt_server_listen (loaded, "127.0.0.1", 0, &error));
    fx.server = loaded;
    fx.hash = g_strdup (loaded_hash);
    fx.url_base = g_strdup_printf ("https://127.0.0.1:%u", confab_wt_server_get_port (loaded));
    fx.server_sessions = g_ptr_array_new_with_free_func (g_object_unref);
    confab_wt_server_set_request_func (loaded, server_request, &fx, NULL);
    cl = client_start (&fx, "/lobby/nina/files", NULL);
    g_assert_true (cl->ready);
    g_clear_pointer (&cl, client_free);
    g_ptr_array_unref (fx.server_sessions);
    g_clear_object (&loaded);
    g_clear_error (&fx.server_close_error);
    g_free (fx.hash);
    g_free (fx.url_base);
  }
  /* Missing files are an error, not a crash. */
  g_assert_null (confab_wt_server_new ("/nonexistent.pem", "/nonexistent.key", &error));
  g_assert_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CERTIFICATE);
  g_unlink (cert);
  g_unlink (key);
  g_rmdir (dir);
}

static gboolean
raw (Client *cl, gboolean bidi, const void *bytes, gsize len)
{
  g_autoptr (GBytes) b = g_bytes_new (bytes, len);

  return confab_wt_conn_queue_raw (confab_wt_session_get_conn (cl->session), bidi, b);
}

static void
test_broken_peer (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/olga/broken", NULL);
  guint8 connect[256];
  gsize connect_len = confab_h3_write_connect (connect, sizeof connect, "x", "/lobby/olga/again");
  static const guint8 bad_qpack[] = { 0x01, 0x03, 0x00, 0x00, 0xff };
  static const guint8 get[] = { 0x01, 0x03, 0x00, 0x00, 0xd1 }; /* :method GET only */
  static const guint8 unknown_frame[] = { 0x21, 0x03, 'a', 'b', 'c' };
  static const guint8 wt_wrong_session[] = { 0x40, 0x41, 0x10, 'z' };
  const struct
  {
    gboolean bidi;
    const void *bytes;
    gsize len;
  } survivable[] = {
    { FALSE, "\x21junk", 5 },              /* reserved stream type */
    { FALSE, "\x02\xff\x00", 3 },          /* QPACK encoder stream with junk */
    { FALSE, "\x40\x54\x08x", 4 },         /* WT stream for a session that does not exist */
    { FALSE, "\x40", 1 },                  /* truncated stream type, then FIN */
    { FALSE, "", 0 },                      /* empty stream */
    { TRUE, bad_qpack, sizeof bad_qpack }, /* undecodable HEADERS: 400 */
    { TRUE, get, sizeof get },             /* not a CONNECT: 400 */
    { TRUE, connect, connect_len },        /* second session on one connection: 429 */
    { TRUE, unknown_frame, sizeof unknown_frame },
    { TRUE, wt_wrong_session, sizeof wt_wrong_session },
  };

  g_assert_true (cl->ready);
  for (gsize i = 0; i < G_N_ELEMENTS (survivable); i++)
    {
      CountWait w = { cl->streams, cl->streams->len + 1 };

      g_test_message ("broken input %" G_GSIZE_FORMAT, i);
      g_assert_true (raw (cl, survivable[i].bidi, survivable[i].bytes, survivable[i].len));
      /* The session shrugs it off and still echoes. */
      g_assert_true (send_text (cl->session, "after"));
      g_assert_true (run_until (count_reached, &w, 5000));
      g_assert_false (cl->closed);
    }
  g_assert_cmpuint (fx->server_sessions->len, ==, 1);

  /* Breaking HTTP/3 itself ends that connection, and only it. */
  {
    static const guint8 second_control[] = { 0x00, 0x04, 0x00 };
    g_autofree guint8 *huge = g_malloc0 (20000);
    const struct
    {
      gboolean bidi;
      const void *bytes;
      gsize len;
    } fatal[] = {
      { FALSE, second_control, sizeof second_control },
      { TRUE, huge, 20000 }, /* HEADERS declared 19,990 bytes: over the limit */
    };

    huge[0] = 0x01;
    huge[1] = 0x80 | 0x00;
    huge[2] = 0x00;
    huge[3] = 0x4e;
    huge[4] = 0x06; /* 4-byte varint 19974 */
    for (gsize i = 0; i < G_N_ELEMENTS (fatal); i++)
      {
        g_autoptr (Client) victim = client_start (fx, "/lobby/olga/victim", NULL);

        g_assert_true (victim->ready);
        g_assert_true (raw (victim, fatal[i].bidi, fatal[i].bytes, fatal[i].len));
        g_assert_true (run_until (client_is_closed, victim, 5000));
        g_assert_nonnull (victim->error);
        g_assert_false (cl->closed);
      }
  }
  {
    CountWait w = { cl->streams, cl->streams->len + 1 };

    g_assert_true (send_text (cl->session, "still"));
    g_assert_true (run_until (count_reached, &w, 5000));
  }
}

static void
test_small_first (Fixture *fx, gconstpointer data)
{
  g_autoptr (Client) cl = client_start (fx, "/lobby/pia/priority", NULL);
  g_autoptr (GBytes) large = pattern (2000000, 1);
  g_autoptr (GBytes) small = pattern (100, 2);
  CountWait w = { cl->streams, 2 };

  g_assert_true (cl->ready);
  /* A keyframe, then an audio packet: the audio must not wait for it. */
  g_assert_true (confab_wt_session_send_stream (cl->session, large));
  g_assert_true (confab_wt_session_send_stream (cl->session, small));
  g_assert_true (run_until (count_reached, &w, 10000));
  g_assert_true (g_bytes_equal (g_ptr_array_index (cl->streams, 0), small));
  g_assert_true (g_bytes_equal (g_ptr_array_index (cl->streams, 1), large));
}

static void
restart_case (gboolean same_secret)
{
  g_autoptr (GError) error = NULL;
  ConfabWtServer *first = confab_wt_server_new (NULL, NULL, &error);
  g_autoptr (ConfabWtServer) second = NULL;
  Fixture fx = { 0 };
  g_autoptr (Client) cl = NULL;
  guint16 port;
  gint64 start;

  g_assert_no_error (error);
  confab_wt_server_set_reset_secret (first, (const guint8 *) "relay secret", 12);
  g_assert_true (confab_wt_server_listen (first, "127.0.0.1", 0, &error));
  port = confab_wt_server_get_port (first);
  fx.server = first;
  fx.hash = confab_wt_server_dup_cert_hash_base64 (first);
  fx.url_base = g_strdup_printf ("https://127.0.0.1:%u", port);
  fx.server_sessions = g_ptr_array_new_with_free_func (g_object_unref);
  fx.echo = TRUE;
  confab_wt_server_set_request_func (first, server_request, &fx, NULL);
  cl = client_start (&fx, "/lobby/quinn/restart", NULL);
  g_assert_true (cl->ready);

  /* The relay process dies (no CONNECTION_CLOSE) and a new one takes the port. */
  g_ptr_array_set_size (fx.server_sessions, 0);
  g_clear_object (&first);
  second = confab_wt_server_new (NULL, NULL, &error);
  g_assert_no_error (error);
  if (same_secret)
    confab_wt_server_set_reset_secret (second, (const guint8 *) "relay secret", 12);
  g_assert_true (confab_wt_server_listen (second, "127.0.0.1", port, &error));
  g_assert_no_error (error);

  start = g_get_monotonic_time ();
  g_assert_true (send_text (cl->session, "anyone there?"));
  if (same_secret)
    {
      /* The stateless reset ends the session at once, not after 30 s. */
      g_assert_true (run_until (client_is_closed, cl, 2000));
      g_assert_nonnull (cl->error);
      g_test_message ("client learned of the restart in %.0f ms",
                      (g_get_monotonic_time () - start) / 1000.0);
    }
  else
    {
      /* A reset with an unknown token is ignored (it could be forged). */
      run_until (client_is_closed, cl, 700);
      g_assert_false (cl->closed);
    }
  g_clear_pointer (&cl, client_free);
  g_ptr_array_unref (fx.server_sessions);
  g_clear_error (&fx.server_close_error);
  g_free (fx.hash);
  g_free (fx.url_base);
}

static void
test_restart (void)
{
  restart_case (TRUE);
  restart_case (FALSE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, data) g_test_add (path, Fixture, data, fixture_setup, fn, fixture_teardown)
  ADD ("/net/wt/connect-accepted", test_connect_accepted, NULL);
  ADD ("/net/wt/connect-refused", test_connect_refused, NULL);
  ADD ("/net/wt/stream-sizes", test_stream_sizes, NULL);
  ADD ("/net/wt/datagrams", test_datagrams, NULL);
  ADD ("/net/wt/many-messages", test_many_messages, NULL);
  ADD ("/net/wt/close-by-client", test_close_by_client, NULL);
  ADD ("/net/wt/close-by-server", test_close_by_server, NULL);
  ADD ("/net/wt/idle-timeout", test_idle_timeout, GUINT_TO_POINTER (400));
  ADD ("/net/wt/keep-alive", test_keep_alive, GUINT_TO_POINTER (400));
  ADD ("/net/wt/certificate-pin", test_pin_mismatch, NULL);
  ADD ("/net/wt/garbage-datagrams", test_garbage, NULL);
  ADD ("/net/wt/transport", test_transport, NULL);
  ADD ("/net/wt/drain", test_drain, NULL);
  ADD ("/net/wt/broken-peer", test_broken_peer, NULL);
  ADD ("/net/wt/small-first", test_small_first, NULL);
  ADD ("/net/wt/transport-close-tells-peer", test_transport_close_tells_peer, NULL);
  ADD ("/net/wt/close-linger-bounded", test_close_linger_bounded, NULL);
  ADD ("/net/wt/empty-message", test_empty_message, NULL);
  g_test_add_func ("/net/wt/port-unreachable", test_port_unreachable);
  g_test_add_func ("/net/wt/ipv6", test_ipv6);
  g_test_add_func ("/net/wt/certificate", test_certificate);
  g_test_add_func ("/net/wt/restart-reset", test_restart);
#undef ADD
  return g_test_run ();
}
