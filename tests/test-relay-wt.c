/* test-relay-wt.c: confab-relay's WebTransport side (PROTOCOL.md §3, §4.6,
 * §4.7) against the real relay binary, with the real WebTransport client
 * (net/confab-wt-client.h) and the raw WebSocket client for mixed rooms;
 * HEALTH subjects on a real nats-server; Chromium as a peer of a real
 * confab-cli. */
#define G_LOG_DOMAIN "confab-test"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "confab-packet.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-test-ws.h"
#include "confab-wt-client.h"
#include "confab-wt-server.h"

#define WAIT_MS 5000

/* ---- one WebTransport client ------------------------------------------------ */

typedef struct
{
  GBytes *bytes;
  gboolean datagram;
} Msg;

static void
msg_free (Msg *msg)
{
  g_bytes_unref (msg->bytes);
  g_free (msg);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Msg, msg_free)

typedef struct
{
  ConfabWtSession *session;
  GQueue msgs;
  gboolean ready;
  gboolean closed;
  guint64 session_id;
} WtPeer;

static void
on_peer_packet (ConfabWtSession *session, GBytes *message, gboolean datagram, WtPeer *peer)
{
  Msg *msg = g_new0 (Msg, 1);

  msg->bytes = g_bytes_ref (message);
  msg->datagram = datagram;
  g_queue_push_tail (&peer->msgs, msg);
}

static void
on_peer_ready (ConfabWtSession *session, WtPeer *peer)
{
  peer->ready = TRUE;
}

static void
on_peer_closed (ConfabWtSession *session, const GError *error, WtPeer *peer)
{
  peer->closed = TRUE;
}

static void
wt_peer_free (WtPeer *peer)
{
  g_signal_handlers_disconnect_by_data (peer->session, peer);
  /* A polite client: the relay sees it go now, not when it shuts down
   * (its graceful shutdown would wait for the session up to its bound). */
  if (confab_wt_session_is_open (peer->session))
    {
      gint64 until = g_get_monotonic_time () + 30 * 1000;

      confab_wt_session_close (peer->session, 0, "");
      /* The close goes out from this thread's main context (loopback: < 1 ms). */
      while (g_get_monotonic_time () < until)
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (1000);
    }
  g_object_unref (peer->session);
  g_queue_clear_full (&peer->msgs, (GDestroyNotify) msg_free);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WtPeer, wt_peer_free)

/* Spins the main context until *@flag or @timeout_ms. */
static gboolean
pump_until (const gboolean *flag, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!*flag && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  return *flag;
}

static void
pump_for (guint ms)
{
  gboolean never = FALSE;

  pump_until (&never, ms);
}

static WtPeer *
wt_connect (ConfabTestRelay *relay, const char *path, const char *hash)
{
  ConfabWtClientOptions options = { .cert_hash = hash, .insecure = hash == NULL };
  g_autofree char *url = g_strconcat (relay->wt_base, path, NULL);
  g_autoptr (GError) error = NULL;
  WtPeer *peer = g_new0 (WtPeer, 1);
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  g_queue_init (&peer->msgs);
  peer->session = confab_wt_client_connect (url, &options, &error);
  g_assert_no_error (error);
  g_signal_connect (peer->session, "ready", G_CALLBACK (on_peer_ready), peer);
  g_signal_connect (peer->session, "packet", G_CALLBACK (on_peer_packet), peer);
  g_signal_connect (peer->session, "closed", G_CALLBACK (on_peer_closed), peer);
  while (!peer->ready && !peer->closed && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return peer;
}

/* The next message, waiting up to @timeout_ms. */
static Msg *
wt_next (WtPeer *peer, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_queue_is_empty (&peer->msgs) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return g_queue_pop_head (&peer->msgs);
}

static ConfabPacketWrapper *
unpack (Msg *msg)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (msg->bytes, &len);

  return confab__packet_wrapper__unpack (NULL, len, data);
}

/* Media of @media_type whose data is @tag. */
static gboolean
is_media_tag (const ConfabPacketWrapper *p, int media_type, const char *tag)
{
  ConfabMediaPacket *m = confab_test_media_of (p);
  gboolean yes = m != NULL && (int) m->media_type == media_type && m->data.len == strlen (tag) &&
                 memcmp (m->data.data, tag, m->data.len) == 0;

  if (m != NULL)
    confab__media_packet__free_unpacked (m, NULL);
  return yes;
}

static gboolean
is_packet_tag (const ConfabPacketWrapper *p, int packet_type, const char *tag)
{
  return p != NULL && (int) p->packet_type == packet_type && p->data.len == strlen (tag) &&
         memcmp (p->data.data, tag, p->data.len) == 0;
}

typedef gboolean (*MatchFunc) (const ConfabPacketWrapper *p, gconstpointer data);

/* Skips messages (presence, heartbeats) until one matches; NULL on timeout. */
static Msg *
wt_find (WtPeer *peer, MatchFunc match, gconstpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (Msg) msg = wt_next (peer, 50);
      g_autoptr (ConfabPacketWrapper) p = NULL;

      if (msg == NULL)
        continue;
      p = unpack (msg);
      if (p != NULL && match (p, data))
        return g_steal_pointer (&msg);
    }
  return NULL;
}

static gboolean
match_video (const ConfabPacketWrapper *p, gconstpointer tag)
{
  return is_media_tag (p, CONFAB_MEDIA_VIDEO, tag);
}

static gboolean
match_heartbeat (const ConfabPacketWrapper *p, gconstpointer tag)
{
  return is_media_tag (p, CONFAB_MEDIA_HEARTBEAT, tag);
}

static gboolean
match_diagnostics (const ConfabPacketWrapper *p, gconstpointer tag)
{
  return is_packet_tag (p, CONFAB_PACKET_DIAGNOSTICS, tag);
}

/* Joins /lobby/@user/@room and checks PROTOCOL.md §4.1 on the way. */
/* [confab] chat (PacketType 100), the first extension type. */
static gboolean
match_chat (const ConfabPacketWrapper *p, gconstpointer tag)
{
  return is_packet_tag (p, CONFAB__PACKET_WRAPPER__PACKET_TYPE__CHAT, tag);
}

static WtPeer *
wt_join (ConfabTestRelay *relay, const char *user, const char *room)
{
  g_autofree char *path = g_strdup_printf ("/lobby/%s/%s", user, room);
  WtPeer *peer = wt_connect (relay, path, NULL);
  g_autoptr (Msg) first = NULL;
  g_autoptr (Msg) second = NULL;
  g_autoptr (ConfabPacketWrapper) assigned = NULL;
  g_autoptr (ConfabPacketWrapper) meeting = NULL;
  ConfabMeetingPacket *started;

  g_assert_true (peer->ready);
  first = wt_next (peer, WAIT_MS);
  g_assert_nonnull (first);
  assigned = unpack (first);
  g_assert_nonnull (assigned);
  g_assert_cmpint (assigned->packet_type, ==, CONFAB_PACKET_SESSION_ASSIGNED);
  g_assert_cmpuint (assigned->session_id, !=, 0);
  peer->session_id = assigned->session_id;

  second = wt_next (peer, WAIT_MS);
  g_assert_nonnull (second);
  meeting = unpack (second);
  g_assert_nonnull (meeting);
  g_assert_cmpint (meeting->packet_type, ==, CONFAB_PACKET_MEETING);
  started = confab__meeting_packet__unpack (NULL, meeting->data.len, meeting->data.data);
  g_assert_nonnull (started);
  g_assert_cmpint (started->event_type, ==, CONFAB_MEETING_STARTED);
  g_assert_cmpstr (started->room_id, ==, room);
  confab__meeting_packet__free_unpacked (started, NULL);
  return peer;
}

static void
wt_send (WtPeer *peer, GBytes *bytes, gboolean datagram)
{
  if (datagram)
    g_assert_true (confab_wt_session_send_datagram (peer->session, bytes));
  else
    g_assert_true (confab_wt_session_send_stream (peer->session, bytes));
}

/* §4.2: a session hears the room once its first non-RTT packet arrived. */
static void
wt_activate (WtPeer *peer, const char *user)
{
  g_autoptr (GBytes) beat = confab_test_media_packet (CONFAB_MEDIA_HEARTBEAT, user, "hi", 0);

  wt_send (peer, beat, FALSE);
  pump_for (100);
}

/* The blocking WebSocket client, read in short slices so the WebTransport
 * client on this thread keeps running. */
static ConfabPacketWrapper *
ws_find (ConfabTestWs *ws, MatchFunc match, gconstpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (ConfabPacketWrapper) p = NULL;

      while (g_main_context_iteration (NULL, FALSE))
        ;
      p = confab_test_ws_recv_packet (ws, 10);
      if (p != NULL && match (p, data))
        return g_steal_pointer (&p);
    }
  return NULL;
}

static GBytes *
rtt_probe (const char *user, double timestamp)
{
  ConfabMediaPacket m = CONFAB__MEDIA_PACKET__INIT;
  g_autoptr (GBytes) inner = NULL;
  gsize len;
  const guint8 *data;

  m.media_type = CONFAB_MEDIA_RTT;
  m.user_id.data = (guint8 *) user;
  m.user_id.len = strlen (user);
  m.timestamp = timestamp;
  inner = confab_message_pack (&m.base);
  data = g_bytes_get_data (inner, &len);
  return confab_packet_wrap (CONFAB_PACKET_MEDIA, user, 0, data, len);
}

static JsonObject *
fetch_config (ConfabTestRelay *relay, JsonParser *parser)
{
  guint status = 0;
  g_autofree char *body = confab_test_http_get (relay->ws_port, "/config.js", &status);
  const char *prefix = "window.__APP_CONFIG = ";
  g_autoptr (GError) error = NULL;
  char *end;

  g_assert_cmpuint (status, ==, 200);
  g_assert_true (g_str_has_prefix (body, prefix));
  end = strrchr (body, ';');
  g_assert_nonnull (end);
  *end = '\0';
  g_assert_true (json_parser_load_from_data (parser, body + strlen (prefix), -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

/* GET @path over TLS on 127.0.0.1:@port (no certificate check: the test
 * compares the certificate itself); returns the whole response. */
static char *
https_get (guint16 port, const char *path, GBytes **peer_cert)
{
  struct sockaddr_in sa = { .sin_family = AF_INET,
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
                            .sin_port = htons (port) };
  struct timeval tv = { .tv_sec = 5 };
  gnutls_certificate_credentials_t creds;
  gnutls_session_t tls;
  g_autofree char *request = g_strdup_printf (
      "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", path, port);
  GString *response = g_string_new (NULL);
  const gnutls_datum_t *certs;
  unsigned int n_certs = 0;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  char buf[4096];
  ssize_t n;

  g_assert_cmpint (connect (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&creds), ==, 0);
  g_assert_cmpint (gnutls_init (&tls, GNUTLS_CLIENT), ==, 0);
  g_assert_cmpint (gnutls_set_default_priority (tls), ==, 0);
  g_assert_cmpint (gnutls_credentials_set (tls, GNUTLS_CRD_CERTIFICATE, creds), ==, 0);
  gnutls_transport_set_int (tls, fd);
  g_assert_cmpint (gnutls_handshake (tls), ==, 0);
  certs = gnutls_certificate_get_peers (tls, &n_certs);
  g_assert_cmpuint (n_certs, >=, 1);
  *peer_cert = g_bytes_new (certs[0].data, certs[0].size);
  g_assert_cmpint (gnutls_record_send (tls, request, strlen (request)), ==, (int) strlen (request));
  /* Until the server closes (Connection: close); bounded by count and SO_RCVTIMEO. */
  for (int i = 0; i < 1000; i++)
    {
      n = gnutls_record_recv (tls, buf, sizeof buf);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n <= 0)
        {
          g_test_message ("tls recv: %s", n < 0 ? gnutls_strerror ((int) n) : "eof");
          break;
        }
      g_string_append_len (response, buf, n);
    }
  gnutls_bye (tls, GNUTLS_SHUT_WR);
  gnutls_deinit (tls);
  gnutls_certificate_free_credentials (creds);
  close (fd);
  return g_string_free (response, FALSE);
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_join (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start_wt (NULL);
  g_autoptr (WtPeer) alice = wt_join (relay, "alice", "wtroom");
  g_autoptr (WtPeer) bob = wt_join (relay, "bob", "wtroom");

  g_assert_cmpuint (alice->session_id, !=, bob->session_id);
}

static void
test_rtt_echo (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start_wt (NULL);
  g_autoptr (WtPeer) alice = wt_join (relay, "alice", "rtt");

  for (int i = 0; i < 2; i++)
    {
      gboolean datagram = i == 0;
      g_autoptr (GBytes) probe = rtt_probe ("alice", 1234.5 + i);
      g_autoptr (Msg) echo = NULL;

      wt_send (alice, probe, datagram);
      echo = wt_next (alice, WAIT_MS);
      g_assert_nonnull (echo);
      /* §4.3: the same bytes, on the path they came by. */
      g_assert_true (g_bytes_equal (echo->bytes, probe));
      g_assert_cmpint (echo->datagram, ==, datagram);
    }
}

static void
test_refused (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start_wt (NULL);
  const struct
  {
    const char *path;
    guint status;
  } cases[] = {
    { "/lobby/alice/bad.room", 400 },
    { "/lobby/alice", 400 },
    { "/lobby/a/b/c", 400 },
    { "/lobby/system-%26%5E%25%24%23%40%21/room", 400 },
    { "/lobby?token=abc.def.ghi", 403 }, /* no --jwt-secret-file */
    { "/lobby", 400 },
    { "/elsewhere", 404 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (WtPeer) peer = wt_connect (relay, cases[i].path, NULL);

      g_test_message ("%s", cases[i].path);
      g_assert_false (peer->ready);
      g_assert_true (peer->closed);
      g_assert_cmpuint (confab_wt_session_get_status (peer->session), ==, cases[i].status);
    }

  /* Spaces become '_' as on WebSocket. */
  {
    g_autoptr (WtPeer) ok = wt_join (relay, "alice%20smith", "room");
  }
}

static void
test_config_js (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start_wt (NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *config = fetch_config (relay, parser);
  g_autofree char *wt_host = g_strdup_printf ("https://127.0.0.1:%u", relay->wt_port);
  const char *hash = json_object_get_string_member (config, "webTransportCertificateHash");
  g_autoptr (WtPeer) pinned = NULL;
  g_autoptr (WtPeer) wrong = NULL;

  g_assert_cmpstr (json_object_get_string_member (config, "webTransportHost"), ==, wt_host);
  g_assert_true (json_object_get_boolean_member (config, "webTransportEnabled"));
  g_assert_nonnull (hash);
  g_assert_cmpuint (strlen (hash), ==, 44); /* base64 of 32 bytes */

  /* The hash is the served certificate's: pinning it succeeds, another fails. */
  pinned = wt_connect (relay, "/lobby/alice/pin", hash);
  g_assert_true (pinned->ready);
  wrong = wt_connect (relay, "/lobby/alice/pin", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  g_assert_false (wrong->ready);
  g_assert_true (wrong->closed);
}

/* --cert/--key: WebTransport serves that certificate, and the WebSocket port
 * speaks TLS (wss://) with the same one. */
static void
test_cert_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabWtServer) maker = confab_wt_server_new (NULL, NULL, &error);
  g_autofree char *cert_pem = NULL;
  g_autofree char *key_pem = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *dir = g_dir_make_tmp ("confab-relay-cert-XXXXXX", &error);
  g_autofree char *cert_file = NULL;
  g_autofree char *key_file = NULL;
  g_autoptr (ConfabTestRelay) relay = NULL;
  g_autoptr (GBytes) served = NULL;
  g_autofree char *healthz = NULL;
  g_autofree char *config = NULL;
  g_autofree char *wss_url = NULL;
  g_autofree char *hash_json = NULL;
  g_autoptr (WtPeer) pinned = NULL;
  guint8 digest[32];
  size_t digest_len = sizeof digest;
  gnutls_datum_t der;

  /* A certificate from the WT layer's own generator, written as files. */
  g_assert_no_error (error);
  cert_pem = confab_wt_server_dup_cert_pem (maker);
  key_pem = confab_wt_server_dup_key_pem (maker);
  hash = confab_wt_server_dup_cert_hash_base64 (maker);
  cert_file = g_build_filename (dir, "cert.pem", NULL);
  key_file = g_build_filename (dir, "key.pem", NULL);
  g_assert_true (g_file_set_contents (cert_file, cert_pem, -1, &error));
  g_assert_true (g_file_set_contents (key_file, key_pem, -1, &error));

  {
    const char *args[] = { "--cert", cert_file, "--key", key_file, NULL };
    relay = confab_test_relay_start_wt (args);
  }

  /* WebTransport with that certificate: its pin works. */
  pinned = wt_connect (relay, "/lobby/alice/tls", hash);
  g_assert_true (pinned->ready);

  /* wss:// on the WebSocket port, same certificate; /config.js says so. */
  healthz = https_get (relay->ws_port, "/healthz", &served);
  g_assert_true (g_str_has_prefix (healthz, "HTTP/1.1 200"));
  g_assert_true (g_str_has_suffix (healthz, "Ok"));
  der.data = (unsigned char *) g_bytes_get_data (served, NULL);
  der.size = g_bytes_get_size (served);
  g_assert_cmpint (gnutls_fingerprint (GNUTLS_DIG_SHA256, &der, digest, &digest_len), ==, 0);
  {
    g_autofree char *served_hash = g_base64_encode (digest, digest_len);
    g_assert_cmpstr (served_hash, ==, hash);
  }
  g_clear_pointer (&served, g_bytes_unref);
  config = https_get (relay->ws_port, "/config.js", &served);
  wss_url = g_strdup_printf ("\"wsUrl\":\"wss://127.0.0.1:%u\"", relay->ws_port);
  hash_json = g_strdup_printf ("\"webTransportCertificateHash\":\"%s\"", hash);
  g_assert_nonnull (strstr (config, wss_url));
  g_assert_nonnull (strstr (config, hash_json));

  g_clear_pointer (&pinned, wt_peer_free);
  g_clear_pointer (&relay, confab_test_relay_stop);
  g_unlink (cert_file);
  g_unlink (key_file);
  g_rmdir (dir);
}

static void
test_config_js_disabled (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *config = fetch_config (relay, parser);

  g_assert_cmpstr (json_object_get_string_member (config, "webTransportHost"), ==, "");
  g_assert_false (json_object_get_boolean_member (config, "webTransportEnabled"));
}

/* A WebSocket and a WebTransport client in one room, and what arrives how
 * at the WebTransport side (§4.6). */
static void
test_mixed_room (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start_wt (NULL);
  g_autoptr (WtPeer) wt = wt_join (relay, "wtuser", "mixed");
  g_autoptr (ConfabTestWs) ws = confab_test_ws_join (relay->ws_port, "wsuser", "mixed");
  g_autoptr (GBytes) video = confab_test_media_packet (CONFAB_MEDIA_VIDEO, "wsuser", "ws-video", 0);
  g_autoptr (GBytes) beat =
      confab_test_media_packet (CONFAB_MEDIA_HEARTBEAT, "wsuser", "ws-beat", 0);
  g_autoptr (GBytes) diag = confab_test_packet (CONFAB_PACKET_DIAGNOSTICS, "wsuser", "small", 0);
  g_autofree char *big_text = g_strnfill (3000, 'x');
  g_autoptr (GBytes) big = confab_test_packet (CONFAB_PACKET_DIAGNOSTICS, "wsuser", big_text, 0);
  g_autoptr (GBytes) chat =
      confab_test_packet (CONFAB__PACKET_WRAPPER__PACKET_TYPE__CHAT, "wsuser", "short-chat", 0);
  g_autoptr (GBytes) wt_video =
      confab_test_media_packet (CONFAB_MEDIA_VIDEO, "wtuser", "wt-video", 0);
  g_autoptr (GBytes) wt_dgram =
      confab_test_media_packet (CONFAB_MEDIA_VIDEO, "wtuser", "wt-video-dgram", 0);
  g_autoptr (Msg) got = NULL;
  g_autoptr (ConfabPacketWrapper) p = NULL;
  g_autoptr (ConfabPacketWrapper) q = NULL;

  wt_activate (wt, "wtuser");

  /* WebSocket -> WebTransport: media (heartbeats too) on a uni stream each,
   * stamped with the sender's session. */
  g_assert_true (confab_test_ws_send_bytes (ws, video));
  got = wt_find (wt, match_video, "ws-video", WAIT_MS);
  g_assert_nonnull (got);
  g_assert_false (got->datagram);
  p = unpack (got);
  g_assert_cmpuint (p->session_id, ==, ws->session_id);
  g_clear_pointer (&got, msg_free);

  g_assert_true (confab_test_ws_send_bytes (ws, beat));
  got = wt_find (wt, match_heartbeat, "ws-beat", WAIT_MS);
  g_assert_nonnull (got);
  g_assert_false (got->datagram);
  g_clear_pointer (&got, msg_free);

  /* Small non-media as a datagram, large on a stream. */
  g_assert_true (confab_test_ws_send_bytes (ws, diag));
  got = wt_find (wt, match_diagnostics, "small", WAIT_MS);
  g_assert_nonnull (got);
  g_assert_true (got->datagram);
  g_clear_pointer (&got, msg_free);

  g_assert_true (confab_test_ws_send_bytes (ws, big));
  got = wt_find (wt, match_diagnostics, big_text, WAIT_MS);
  g_assert_nonnull (got);
  g_assert_false (got->datagram);
  g_assert_cmpuint (g_bytes_get_size (got->bytes), >, 1200);
  g_clear_pointer (&got, msg_free);

  /* [confab] extension packets (chat) are what people typed: a stream, even
   * when short enough for a datagram. */
  g_assert_true (confab_test_ws_send_bytes (ws, chat));
  got = wt_find (wt, match_chat, "short-chat", WAIT_MS);
  g_assert_nonnull (got);
  g_assert_false (got->datagram);

  /* WebTransport -> WebSocket, sent on a stream and as a datagram. */
  wt_send (wt, wt_video, FALSE);
  q = ws_find (ws, match_video, "wt-video", WAIT_MS);
  g_assert_nonnull (q);
  g_assert_cmpuint (q->session_id, ==, wt->session_id);
  g_clear_pointer (&q, confab_test_packet_free);
  wt_send (wt, wt_dgram, TRUE);
  q = ws_find (ws, match_video, "wt-video-dgram", WAIT_MS);
  g_assert_nonnull (q);
  g_assert_cmpuint (q->session_id, ==, wt->session_id);
}

/* §4.7: a raw datagram "ping" keeps a WebTransport session alive and goes
 * nowhere; a silent one is closed after the idle timeout. */
static void
test_keepalive (void)
{
  g_autoptr (ConfabTestRelay) relay = NULL;
  g_autoptr (WtPeer) talker = NULL;
  g_autoptr (WtPeer) silent = NULL;
  g_autoptr (WtPeer) listener = NULL;
  g_autoptr (GBytes) ping = g_bytes_new_static ("ping", 4);
  g_autoptr (GBytes) hello = confab_test_media_packet (CONFAB_MEDIA_VIDEO, "talker", "hello", 0);

  g_setenv ("CONFAB_RELAY_IDLE_TIMEOUT_MS", "1500", TRUE);
  relay = confab_test_relay_start_wt (NULL);
  g_unsetenv ("CONFAB_RELAY_IDLE_TIMEOUT_MS");
  talker = wt_join (relay, "talker", "alive");
  silent = wt_join (relay, "silent", "alive");
  listener = wt_join (relay, "listener", "alive");
  wt_activate (listener, "listener");

  for (int i = 0; i < 12; i++)
    {
      wt_send (talker, ping, TRUE);
      wt_send (listener, ping, TRUE);
      pump_for (250);
    }
  g_assert_false (talker->closed);
  g_assert_false (listener->closed);
  g_assert_true (pump_until (&silent->closed, WAIT_MS));

  /* The talker still reaches the listener, and no "ping" was forwarded. */
  wt_send (talker, hello, FALSE);
  {
    g_autoptr (Msg) got = wt_find (listener, match_video, "hello", WAIT_MS);
    g_assert_nonnull (got);
  }
  for (GList *l = listener->msgs.head; l != NULL; l = l->next)
    g_assert_false (g_bytes_equal (((Msg *) l->data)->bytes, ping));
}

/* A session that carried its stream budget is asked to move
 * (DRAIN_WEBTRANSPORT_SESSION) and keeps being served; a client that
 * ignores the drain (an upstream browser may) is closed after the grace, so
 * its own reconnect takes over instead of ngtcp2 0.12.1's per-stream records
 * growing for the whole call (docs/webtransport.md, "Known limits"). */
static void
test_retire_ignored (void)
{
  g_autoptr (ConfabTestRelay) relay = NULL;
  g_autoptr (WtPeer) stuck = NULL;
  g_autoptr (WtPeer) listener = NULL;
  g_autoptr (GBytes) late = confab_test_media_packet (CONFAB_MEDIA_VIDEO, "stuck", "late", 0);
  gint64 deadline, drained_us, closed_us;

  g_setenv ("CONFAB_RELAY_WT_STREAM_BUDGET", "20", TRUE);
  g_setenv ("CONFAB_RELAY_WT_RETIRE_GRACE_MS", "800", TRUE);
  relay = confab_test_relay_start_wt (NULL);
  g_unsetenv ("CONFAB_RELAY_WT_STREAM_BUDGET");
  g_unsetenv ("CONFAB_RELAY_WT_RETIRE_GRACE_MS");
  stuck = wt_join (relay, "stuck", "retire");
  listener = wt_join (relay, "listener", "retire");
  wt_activate (listener, "listener");

  for (int i = 0; i < 25; i++)
    {
      g_autoptr (GBytes) frame = confab_test_media_packet (CONFAB_MEDIA_VIDEO, "stuck", "early", 0);

      wt_send (stuck, frame, FALSE);
    }
  deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while (!confab_wt_session_is_draining (stuck->session) && g_get_monotonic_time () < deadline)
    pump_for (5);
  g_assert_true (confab_wt_session_is_draining (stuck->session));
  drained_us = g_get_monotonic_time ();

  /* Still served while it is expected to move. */
  wt_send (stuck, late, FALSE);
  {
    g_autoptr (Msg) got = wt_find (listener, match_video, "late", WAIT_MS);

    g_assert_nonnull (got);
  }
  g_assert_false (stuck->closed);

  /* It did not move: closed after the grace, not before. */
  g_assert_true (pump_until (&stuck->closed, WAIT_MS));
  closed_us = g_get_monotonic_time ();
  g_test_message ("closed %.0f ms after the drain", (closed_us - drained_us) / 1000.0);
  g_assert_cmpint (closed_us - drained_us, >=, 600 * 1000);
}

static gsize
rss_kib (GSubprocess *process)
{
  g_autofree char *path =
      g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (process));
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + 6, NULL, 10);
}

static gboolean
is_left_of (const ConfabPacketWrapper *p, const char *user)
{
  ConfabMeetingPacket *m;
  gboolean yes;

  if (p->packet_type != CONFAB_PACKET_MEETING)
    return FALSE;
  m = confab__meeting_packet__unpack (NULL, p->data.len, p->data.data);
  yes = m != NULL && m->event_type == CONFAB_MEETING_PARTICIPANT_LEFT &&
        m->target_user_id.len == strlen (user) &&
        memcmp (m->target_user_id.data, user, m->target_user_id.len) == 0;
  if (m != NULL)
    confab__meeting_packet__free_unpacked (m, NULL);
  return yes;
}

/* §4.6 on WebTransport: a receiver that reads nothing (its process stops
 * running the QUIC client) costs the relay bounded memory, its sender hears
 * CONGESTION, and the relay finally drops it. */
static void
test_slow_reader (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start_wt (NULL);
  g_autoptr (ConfabTestWs) alice = confab_test_ws_join (relay->ws_port, "alice", "slow");
  g_autoptr (WtPeer) slow = wt_join (relay, "slowreader", "slow");
  g_autofree char *payload = g_malloc (16 * 1024 + 1);
  g_autoptr (GBytes) big = NULL;
  gboolean congested = FALSE;
  gboolean left = FALSE;
  gsize rss_before, rss_after;
  gint64 start;
  int sent = 0;

  wt_activate (slow, "slowreader");
  memset (payload, 'v', 16 * 1024);
  payload[16 * 1024] = '\0';
  big = confab_test_media_packet (CONFAB_MEDIA_VIDEO, "alice", payload, 0);
  rss_before = rss_kib (relay->process);

  /* From here on the WebTransport client never runs again. Up to 160 MiB. */
  for (; sent < 10000 && !congested; sent++)
    {
      g_assert_true (confab_test_ws_send_bytes (alice, big));
      if (sent % 50 == 0)
        {
          g_autoptr (ConfabPacketWrapper) p = NULL;
          while ((p = confab_test_ws_recv_packet (alice, 1)) != NULL && !congested)
            {
              if (p->packet_type == CONFAB_PACKET_CONGESTION)
                {
                  g_assert_cmpuint (p->session_id, ==, alice->session_id);
                  g_assert_cmpmem (p->user_id.data, p->user_id.len, "slowreader", 10);
                  congested = TRUE;
                }
              g_clear_pointer (&p, confab_test_packet_free);
            }
        }
    }
  rss_after = rss_kib (relay->process);
  g_test_message ("CONGESTION after %d x 16 KiB; relay RSS %zu KiB -> %zu KiB", sent, rss_before,
                  rss_after);
  g_assert_true (congested);
  /* The connection's send queue (32 MiB) plus the ring (256 entries) bound it. */
  g_assert_cmpuint (rss_after, <, rss_before + 80 * 1024);

  /* Stalled for 10 s: closed, and after the grace period alice hears LEFT. */
  start = g_get_monotonic_time ();
  while (!left && g_get_monotonic_time () - start < 20 * G_USEC_PER_SEC)
    {
      g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (alice, 100);
      left = p != NULL && is_left_of (p, "slowreader");
    }
  g_test_message ("slow reader dropped after %.1f s more", (g_get_monotonic_time () - start) / 1e6);
  g_assert_true (left);
}

/* Two relays on NATS: WebTransport on one, WebSocket on the other. */
static void
test_nats (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  const char *args[] = { "--nats", nats->url, NULL };
  g_autoptr (ConfabTestRelay) a = confab_test_relay_start_wt (args);
  g_autoptr (ConfabTestRelay) b = confab_test_relay_start_wt (args);
  g_autoptr (WtPeer) wt = wt_join (a, "wtuser", "across");
  g_autoptr (ConfabTestWs) ws = confab_test_ws_join (b->ws_port, "wsuser", "across");
  g_autoptr (GBytes) from_ws =
      confab_test_media_packet (CONFAB_MEDIA_VIDEO, "wsuser", "from-ws", 0);
  g_autoptr (GBytes) from_wt =
      confab_test_media_packet (CONFAB_MEDIA_VIDEO, "wtuser", "from-wt", 0);
  g_autoptr (Msg) got = NULL;
  g_autoptr (ConfabPacketWrapper) p = NULL;
  g_autoptr (ConfabPacketWrapper) q = NULL;

  wt_activate (wt, "wtuser");

  /* Subscriptions settle asynchronously: send until heard, boundedly. */
  for (int i = 0; i < 20 && got == NULL; i++)
    {
      g_assert_true (confab_test_ws_send_bytes (ws, from_ws));
      got = wt_find (wt, match_video, "from-ws", 250);
    }
  g_assert_nonnull (got);
  g_assert_false (got->datagram);
  p = unpack (got);
  g_assert_cmpuint (p->session_id, ==, ws->session_id);

  for (int i = 0; i < 20 && q == NULL; i++)
    {
      wt_send (wt, from_wt, FALSE);
      q = ws_find (ws, match_video, "from-wt", 250);
    }
  g_assert_nonnull (q);
  g_assert_cmpuint (q->session_id, ==, wt->session_id);
}

/* The subject of the next message on @sub whose payload is a HEALTH packet
 * carrying @tag, or NULL after @timeout_ms. */
static char *
next_health_subject (natsSubscription *sub, const char *tag, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      natsMsg *msg = NULL;
      ConfabPacketWrapper *p;
      char *subject = NULL;

      if (natsSubscription_NextMsg (&msg, sub, 100) != NATS_OK)
        continue;
      p = confab__packet_wrapper__unpack (NULL, (size_t) natsMsg_GetDataLength (msg),
                                          (const guint8 *) natsMsg_GetData (msg));
      if (is_packet_tag (p, CONFAB_PACKET_HEALTH, tag))
        subject = g_strdup (natsMsg_GetSubject (msg));
      if (p != NULL)
        confab__packet_wrapper__free_unpacked (p, NULL);
      natsMsg_Destroy (msg);
      if (subject != NULL)
        return subject;
    }
  return NULL;
}

/* PROTOCOL.md §4.3: HEALTH is published to
 * health.diagnostics.{region}.{service}.{server_id}, and the service is the
 * path it came by: "webtransport" for a WebTransport session (datagram or
 * stream), "websocket" for a WebSocket one, on one relay. */
static void
test_health_subject (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  const char *args[] = { "--nats", nats->url, "--server-id", "relay-h", "--region", "eu", NULL };
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start_wt (args);
  natsConnection *nc = NULL;
  natsSubscription *sub = NULL;
  g_autoptr (WtPeer) wt = NULL;
  g_autoptr (ConfabTestWs) ws = NULL;
  g_autoptr (GBytes) wt_dgram = confab_test_packet (CONFAB_PACKET_HEALTH, "wtuser", "wt-dgram", 0);
  g_autoptr (GBytes) wt_stream =
      confab_test_packet (CONFAB_PACKET_HEALTH, "wtuser", "wt-stream", 0);
  g_autoptr (GBytes) ws_health = confab_test_packet (CONFAB_PACKET_HEALTH, "wsuser", "ws", 0);
  g_autofree char *subject = NULL;

  g_assert_cmpint (natsConnection_ConnectTo (&nc, nats->url), ==, NATS_OK);
  g_assert_cmpint (natsConnection_SubscribeSync (&sub, nc, "health.diagnostics.>"), ==, NATS_OK);
  g_assert_cmpint (natsConnection_Flush (nc), ==, NATS_OK);
  wt = wt_join (relay, "wtuser", "health");
  ws = confab_test_ws_join (relay->ws_port, "wsuser", "health");

  wt_send (wt, wt_dgram, TRUE);
  pump_for (50);
  subject = next_health_subject (sub, "wt-dgram", WAIT_MS);
  g_assert_cmpstr (subject, ==, "health.diagnostics.eu.webtransport.relay-h");
  g_clear_pointer (&subject, g_free);

  wt_send (wt, wt_stream, FALSE);
  pump_for (50);
  subject = next_health_subject (sub, "wt-stream", WAIT_MS);
  g_assert_cmpstr (subject, ==, "health.diagnostics.eu.webtransport.relay-h");
  g_clear_pointer (&subject, g_free);

  g_assert_true (confab_test_ws_send_bytes (ws, ws_health));
  subject = next_health_subject (sub, "ws", WAIT_MS);
  g_assert_cmpstr (subject, ==, "health.diagnostics.eu.websocket.relay-h");

  natsSubscription_Destroy (sub);
  natsConnection_Destroy (nc);
}

typedef struct
{
  gboolean done;
  char *out;
  int status;
} Driver;

static void
on_driver_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Driver *d = data;
  g_autofree char *err = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &d->out, &err, NULL);
  if (err != NULL && err[0] != '\0')
    g_test_message ("driver: %s", err);
  d->status = g_subprocess_get_if_exited (G_SUBPROCESS (source))
                  ? g_subprocess_get_exit_status (G_SUBPROCESS (source))
                  : -1;
  d->done = TRUE;
}

/* The CLI summary's peer with this session id (a decimal string from the
 * page), or NULL. */
static JsonObject *
cli_peer (JsonObject *summary, const char *session)
{
  JsonArray *peers = json_object_get_array_member (summary, "peers");
  guint64 id = session != NULL ? g_ascii_strtoull (session, NULL, 10) : 0;

  for (guint i = 0; id != 0 && i < json_array_get_length (peers); i++)
    {
      JsonObject *peer = json_array_get_object_element (peers, i);

      if (confab_test_json_session_id (peer) == id)
        return peer;
    }
  return NULL;
}

/* Chromium (its own QUIC and WebSocket stacks) as a real peer of the relay:
 * tests/wt-chromium/relay.html, driven by run.js, first over WebTransport,
 * then over ws:// (or, with @tls, wss:// on a relay with --cert/--key),
 * while a real confab-cli over WebTransport is the other member of the
 * room (through the relay's /config.js, or with @tls a pinned https://
 * lobby URL). The page must receive the CLI's heartbeats and media; the
 * CLI's summary must list both of the page's sessions with what it received
 * from them. */
static void
run_chromium (gboolean tls)
{
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  const char *chromium = g_getenv ("CONFAB_CHROMIUM") ?: "/usr/bin/chromium";
  g_autofree char *node = g_find_program_in_path ("node");
  g_autofree char *dir = g_build_filename (srcdir ? srcdir : "tests", "wt-chromium", NULL);
  g_autofree char *driver = g_build_filename (dir, "run.js", NULL);
  g_autofree char *module = g_build_filename (dir, "node_modules", "playwright-core", NULL);
  g_autoptr (ConfabTestRelay) relay = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonParser) report_parser = json_parser_new ();
  g_autoptr (ConfabTestCli) cli = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *wt_url = NULL;
  g_autofree char *page_arg = NULL;
  g_autofree char *link = NULL;
  g_autofree char *tls_dir = NULL;
  g_autofree char *cert_file = NULL;
  g_autofree char *key_file = NULL;
  g_autofree char *tls_hash = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  Driver d = { 0 };
  gint64 deadline;
  JsonObject *config, *report;
  const char *hash;
  const char *kinds[] = { "wt", "ws" };

  if (node == NULL || !g_file_test (chromium, G_FILE_TEST_IS_EXECUTABLE) ||
      !g_file_test (module, G_FILE_TEST_IS_DIR))
    {
      if (g_strcmp0 (g_getenv ("CONFAB_REQUIRE_INTEROP"), "1") == 0)
        g_error ("node, chromium or playwright-core missing (CONFAB_REQUIRE_INTEROP=1)");
      g_test_skip ("node, chromium or playwright-core (tests/wt-chromium) missing");
      return;
    }
  launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (tls)
    {
      /* A certificate from the WT layer's own generator, as files: the relay
       * serves it on WebTransport and as wss:// on its WebSocket port. */
      g_autoptr (ConfabWtServer) maker = confab_wt_server_new (NULL, NULL, &error);
      g_autofree char *cert_pem = NULL;
      g_autofree char *key_pem = NULL;

      g_assert_no_error (error);
      tls_dir = g_dir_make_tmp ("confab-chromium-tls-XXXXXX", &error);
      g_assert_no_error (error);
      cert_pem = confab_wt_server_dup_cert_pem (maker);
      key_pem = confab_wt_server_dup_key_pem (maker);
      tls_hash = confab_wt_server_dup_cert_hash_base64 (maker);
      cert_file = g_build_filename (tls_dir, "cert.pem", NULL);
      key_file = g_build_filename (tls_dir, "key.pem", NULL);
      g_assert_true (g_file_set_contents (cert_file, cert_pem, -1, &error));
      g_assert_true (g_file_set_contents (key_file, key_pem, -1, &error));
      {
        const char *args[] = { "--cert", cert_file, "--key", key_file, NULL };
        relay = confab_test_relay_start_wt (args);
      }
      hash = tls_hash;
      page_arg =
          g_strdup_printf ("wss://127.0.0.1:%u/lobby/chromium-ws/chrome cli-peer", relay->ws_port);
      link = g_strdup_printf ("%s/lobby/cli-peer/chrome", relay->wt_base);
      cli = confab_test_cli_start ("join", link, "--cert-hash", hash, "--duration", "90", "--size",
                                   "160x90", "--fps", "10", NULL);
      /* The page's wss:// meets a self-signed certificate: run.js tells
       * Chromium to accept it (only in this variant). */
      g_subprocess_launcher_setenv (launcher, "CONFAB_CHROMIUM_IGNORE_TLS_ERRORS", "1", TRUE);
    }
  else
    {
      relay = confab_test_relay_start_wt (NULL);
      config = fetch_config (relay, parser);
      hash = json_object_get_string_member (config, "webTransportCertificateHash");
      page_arg = g_strdup_printf ("%s/lobby/chromium-ws/chrome cli-peer", relay->ws_base);
      link = g_strdup_printf ("%s/meeting/chrome", relay->http_base);
      cli = confab_test_cli_start ("join", link, "--name", "cli-peer", "--duration", "90", "--size",
                                   "160x90", "--fps", "10", NULL);
    }
  wt_url = g_strdup_printf ("%s/lobby/chromium-wt/chrome", relay->wt_base);

  proc = g_subprocess_launcher_spawn (launcher, &error, node, driver, wt_url, hash, "relay.html",
                                      page_arg, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, on_driver_done, &d);
  deadline = g_get_monotonic_time () + 90 * G_USEC_PER_SEC;
  while (!d.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (!d.done)
    g_subprocess_force_exit (proc);
  /* SIGTERM: the CLI leaves and prints its summary. */
  g_subprocess_send_signal (cli->process, SIGTERM);
  confab_test_cli_wait (cli, 15000);
  g_test_message ("chromium report: %s", d.out != NULL ? d.out : "(none)");
  g_assert_true (d.done);
  g_assert_cmpint (d.status, ==, 0);
  g_assert_nonnull (cli->summary);
  g_assert_cmpstr (json_object_get_string_member (cli->summary, "transport"), ==, "webtransport");

  g_assert_true (json_parser_load_from_data (report_parser, d.out, -1, &error));
  g_assert_no_error (error);
  report = json_node_get_object (json_parser_get_root (report_parser));
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *session_key = g_strdup_printf ("%sSession", kinds[i]);
      g_autofree char *beats_key = g_strdup_printf ("%sCliHeartbeats", kinds[i]);
      g_autofree char *media_key = g_strdup_printf ("%sCliMedia", kinds[i]);
      g_autofree char *user = g_strdup_printf ("chromium-%s", kinds[i]);
      JsonObject *peer = cli_peer (
          cli->summary, json_object_get_string_member_with_default (report, session_key, NULL));

      /* The page heard the CLI... */
      g_assert_cmpint (json_object_get_int_member (report, beats_key), >=, 1);
      g_assert_cmpint (json_object_get_int_member (report, media_key), >=, 3);
      /* ...and the CLI heard the page, on the session the page was given. */
      g_assert_nonnull (peer);
      g_assert_cmpstr (json_object_get_string_member (peer, "user_id"), ==, user);
      g_assert_cmpint (json_object_get_int_member (peer, "heartbeats"), >=, 3);
      g_assert_cmpint (json_object_get_int_member (peer, "video_frames"), >=, 3);
    }
  g_free (d.out);
  if (tls)
    {
      g_clear_pointer (&relay, confab_test_relay_stop);
      g_unlink (cert_file);
      g_unlink (key_file);
      g_rmdir (tls_dir);
    }
}

static void
test_chromium_ws (void)
{
  run_chromium (FALSE);
}

static void
test_chromium_wss (void)
{
  run_chromium (TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay/wt/join", test_join);
  g_test_add_func ("/relay/wt/rtt-echo", test_rtt_echo);
  g_test_add_func ("/relay/wt/refused", test_refused);
  g_test_add_func ("/relay/wt/config-js", test_config_js);
  g_test_add_func ("/relay/wt/config-js-disabled", test_config_js_disabled);
  g_test_add_func ("/relay/wt/cert-files", test_cert_files);
  g_test_add_func ("/relay/wt/mixed-room", test_mixed_room);
  g_test_add_func ("/relay/wt/keepalive", test_keepalive);
  g_test_add_func ("/relay/wt/retire-ignored", test_retire_ignored);
  g_test_add_func ("/relay/wt/nats", test_nats);
  g_test_add_func ("/relay/wt/health-subject", test_health_subject);
  g_test_add_func ("/relay/wt/slow-reader", test_slow_reader);
  g_test_add_func ("/relay/wt/chromium/ws", test_chromium_ws);
  g_test_add_func ("/relay/wt/chromium/wss", test_chromium_wss);
  return g_test_run ();
}
