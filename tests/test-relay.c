/* test-relay.c: every rule of PROTOCOL.md §3-§4 against the real confab-relay
 * binary, through raw WebSocket clients (confab-test-ws.c). */
#define G_LOG_DOMAIN "confab-test"

#include <gnutls/crypto.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "confab-packet.h"
#include "confab-test-util.h"
#include "confab-test-ws.h"

#define WAIT_MS 5000

/* ---- helpers --------------------------------------------------------------- */

/* Every packet @ws receives before the marker @tag (which must arrive). */
static GPtrArray *
collect_until_marker (ConfabTestWs *ws, const char *tag, guint timeout_ms)
{
  GPtrArray *seen = g_ptr_array_new_with_free_func (confab_test_packet_free);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      ConfabPacketWrapper *p = confab_test_ws_recv_packet (ws, 200);
      if (p == NULL)
        {
          g_assert_false (ws->closed);
          continue;
        }
      if (confab_test_is_marker (p, tag))
        {
          confab_test_packet_free (p);
          return seen;
        }
      g_ptr_array_add (seen, p);
    }
  g_error ("marker %s never arrived", tag);
  return NULL;
}

/* Two active members alice and bob in @room, each knowing the other. */
static void
join_pair (ConfabTestRelay *relay, const char *room, ConfabTestWs **a, ConfabTestWs **b)
{
  ConfabMeetingPacket *m;

  *a = confab_test_ws_join (relay->ws_port, "alice", room);
  confab_test_ws_activate (*a, "alice");
  *b = confab_test_ws_join (relay->ws_port, "bob", room);
  confab_test_ws_activate (*b, "bob");
  m = confab_test_ws_wait_meeting (*a, CONFAB_MEETING_PARTICIPANT_JOINED, "bob", WAIT_MS);
  g_assert_nonnull (m);
  confab__meeting_packet__free_unpacked (m, NULL);
  m = confab_test_ws_wait_meeting (*b, CONFAB_MEETING_PARTICIPANT_JOINED, "alice", WAIT_MS);
  g_assert_nonnull (m);
  confab__meeting_packet__free_unpacked (m, NULL);
}

static guint
count_media (GPtrArray *packets, int media_type)
{
  guint n = 0;

  for (guint i = 0; i < packets->len; i++)
    {
      ConfabMediaPacket *m = confab_test_media_of (packets->pdata[i]);
      if (m != NULL && (int) m->media_type == media_type)
        n++;
      if (m != NULL)
        confab__media_packet__free_unpacked (m, NULL);
    }
  return n;
}

static guint
count_type (GPtrArray *packets, int packet_type)
{
  guint n = 0;

  for (guint i = 0; i < packets->len; i++)
    if ((int) ((ConfabPacketWrapper *) packets->pdata[i])->packet_type == packet_type)
      n++;
  return n;
}

/* Reads and discards until @ws has been quiet for @quiet_ms. */
static void
drain (ConfabTestWs *ws, guint quiet_ms)
{
  for (guint i = 0; i < 100000; i++)
    {
      g_autoptr (GBytes) m = confab_test_ws_recv (ws, quiet_ms);
      if (m == NULL)
        return;
    }
}

/* ---- §4.1 session ids ------------------------------------------------------ */

static void
test_session_assigned (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autoptr (ConfabTestWs) a = confab_test_ws_connect (relay->ws_port, "/lobby/alice/standup");
  g_autoptr (ConfabTestWs) b = NULL;
  g_autoptr (ConfabPacketWrapper) first = NULL;
  g_autoptr (ConfabPacketWrapper) second = NULL;
  ConfabMeetingPacket *m;

  g_assert_cmpuint (a->status, ==, 101);
  first = confab_test_ws_recv_packet (a, WAIT_MS);
  second = confab_test_ws_recv_packet (a, WAIT_MS);
  g_assert_nonnull (first);
  g_assert_nonnull (second);
  /* SESSION_ASSIGNED first, non-zero id, empty data, from the system identity. */
  g_assert_cmpint (first->packet_type, ==, CONFAB_PACKET_SESSION_ASSIGNED);
  g_assert_cmpuint (first->session_id, !=, 0);
  g_assert_cmpuint (first->data.len, ==, 0);
  g_assert_cmpmem (first->user_id.data, first->user_id.len, CONFAB_SYSTEM_USER_ID,
                   strlen (CONFAB_SYSTEM_USER_ID));
  /* Then MEETING_STARTED with the room, a start time and the creator. */
  g_assert_cmpint (second->packet_type, ==, CONFAB_PACKET_MEETING);
  m = confab_test_meeting_of (second);
  g_assert_nonnull (m);
  g_assert_cmpint (m->event_type, ==, CONFAB_MEETING_STARTED);
  g_assert_cmpstr (m->room_id, ==, "standup");
  g_assert_cmpuint (m->start_time_ms, >, 1700000000000);
  g_assert_cmpmem (m->creator_id.data, m->creator_id.len, "alice", 5);
  confab__meeting_packet__free_unpacked (m, NULL);

  b = confab_test_ws_join (relay->ws_port, "bob", "standup");
  g_assert_cmpuint (b->session_id, !=, first->session_id);
}

/* ---- §4.2 testing -> active, JOINED and the directory ---------------------- */

static void
test_testing_then_active (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autoptr (ConfabTestWs) a = confab_test_ws_join (relay->ws_port, "alice", "r");
  g_autoptr (ConfabTestWs) c = NULL;
  g_autoptr (ConfabTestWs) b = NULL;
  g_autoptr (GBytes) rtt = NULL;
  g_autoptr (GPtrArray) seen = NULL;
  g_autoptr (ConfabPacketWrapper) echo = NULL;
  ConfabMeetingPacket *m;
  guint joined = 0;

  confab_test_ws_activate (a, "alice");
  c = confab_test_ws_join (relay->ws_port, "carol", "r");
  confab_test_ws_activate (c, "carol");
  m = confab_test_ws_wait_meeting (a, CONFAB_MEETING_PARTICIPANT_JOINED, "carol", WAIT_MS);
  g_assert_nonnull (m);
  confab__meeting_packet__free_unpacked (m, NULL);

  /* bob only probes RTT: still testing, so alice's media must not reach him. */
  b = confab_test_ws_join (relay->ws_port, "bob", "r");
  rtt = confab_test_media_packet (CONFAB_MEDIA_RTT, "bob", NULL, 0);
  g_assert_true (confab_test_ws_send_bytes (b, rtt));
  echo = confab_test_ws_recv_packet (b, WAIT_MS);
  g_assert_nonnull (echo);
  g_assert_cmpint (echo->packet_type, ==, CONFAB_PACKET_MEDIA);
  confab_test_ws_send_marker (a, "alice", "while-testing");
  /* carol sees the marker, so the relay has handled it; bob must not. */
  g_ptr_array_unref (collect_until_marker (c, "while-testing", WAIT_MS));
  {
    g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (b, 500);
    g_assert_null (p);
  }
  /* And nobody was told about bob yet. */
  seen = collect_until_marker (c, (confab_test_ws_send_marker (a, "alice", "m2"), "m2"), WAIT_MS);
  g_assert_cmpuint (count_type (seen, CONFAB_PACKET_MEETING), ==, 0);

  /* A heartbeat activates bob: alice and carol get PARTICIPANT_JOINED. */
  confab_test_ws_activate (b, "bob");
  m = confab_test_ws_wait_meeting (a, CONFAB_MEETING_PARTICIPANT_JOINED, "bob", WAIT_MS);
  g_assert_nonnull (m);
  g_assert_cmpuint (m->session_id, ==, b->session_id);
  g_assert_cmpstr (m->message, ==, "bob has joined the meeting");
  g_assert_cmpmem (m->display_name.data, m->display_name.len, "bob", 3);
  confab__meeting_packet__free_unpacked (m, NULL);

  /* bob is told about each member already present, once each. */
  confab_test_ws_send_marker (a, "alice", "after-join");
  g_clear_pointer (&seen, g_ptr_array_unref);
  seen = collect_until_marker (b, "after-join", WAIT_MS);
  for (guint i = 0; i < seen->len; i++)
    {
      ConfabMeetingPacket *j = confab_test_meeting_of (seen->pdata[i]);
      if (j != NULL && j->event_type == CONFAB_MEETING_PARTICIPANT_JOINED)
        {
          g_assert_true (j->session_id == a->session_id || j->session_id == c->session_id);
          g_assert_cmpuint (j->session_id, !=, b->session_id);
          joined++;
        }
      if (j != NULL)
        confab__meeting_packet__free_unpacked (j, NULL);
    }
  g_assert_cmpuint (joined, ==, 2);
}

/* ---- §4.3 classification --------------------------------------------------- */

static void
test_rtt_echo (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  g_autoptr (GBytes) rtt = NULL;
  g_autoptr (GBytes) echo = NULL;
  g_autoptr (GPtrArray) seen = NULL;

  join_pair (relay, "r", &a, &b);
  drain (a, 200);
  rtt = confab_test_media_packet (CONFAB_MEDIA_RTT, "alice", "probe", 777);
  g_assert_true (confab_test_ws_send_bytes (a, rtt));
  /* The very same bytes come back on the same connection... */
  echo = confab_test_ws_recv (a, WAIT_MS);
  g_assert_nonnull (echo);
  g_assert_true (g_bytes_equal (echo, rtt));
  /* ...and are not published. */
  confab_test_ws_send_marker (a, "alice", "m");
  seen = collect_until_marker (b, "m", WAIT_MS);
  g_assert_cmpuint (count_media (seen, CONFAB_MEDIA_RTT), ==, 0);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

static void
check_not_forwarded (GBytes *packet)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  g_autoptr (GPtrArray) seen = NULL;
  g_autoptr (GBytes) media = confab_test_media_packet (CONFAB_MEDIA_AUDIO, "alice", "a", 0);

  join_pair (relay, "r", &a, &b);
  g_assert_true (confab_test_ws_send_bytes (a, packet));
  /* A control packet after it shows the relay forwards other traffic. */
  g_assert_true (confab_test_ws_send_bytes (a, media));
  confab_test_ws_send_marker (a, "alice", "m");
  seen = collect_until_marker (b, "m", WAIT_MS);
  g_assert_cmpuint (seen->len, ==, 1);
  g_assert_cmpuint (count_media (seen, CONFAB_MEDIA_AUDIO), ==, 1);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

static void
test_health_consumed (void)
{
  g_autoptr (GBytes) health = confab_test_packet (CONFAB_PACKET_HEALTH, "alice", "health", 0);
  check_not_forwarded (health);
}

static void
test_congestion_dropped (void)
{
  g_autoptr (GBytes) congestion = confab_test_packet (CONFAB_PACKET_CONGESTION, "alice", NULL, 0);
  check_not_forwarded (congestion);
}

static void
test_system_identity_packet_dropped (void)
{
  ConfabMeetingPacket m = CONFAB__MEETING_PACKET__INIT;
  g_autoptr (GBytes) forged = NULL;

  m.event_type = CONFAB_MEETING_ENDED;
  m.room_id = (char *) "r";
  forged = confab_packet_new_meeting (&m);
  check_not_forwarded (forged);
}

static void
test_keyframe_request_limit (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  g_autoptr (GPtrArray) seen = NULL;
  g_autoptr (GPtrArray) later = NULL;
  g_autoptr (GBytes) kr =
      confab_test_media_packet (CONFAB_MEDIA_KEYFRAME_REQUEST, "alice", "VIDEO", 0);

  join_pair (relay, "r", &a, &b);
  for (int i = 0; i < 6; i++)
    g_assert_true (confab_test_ws_send_bytes (a, kr));
  confab_test_ws_send_marker (a, "alice", "m1");
  seen = collect_until_marker (b, "m1", WAIT_MS);
  g_assert_cmpuint (count_media (seen, CONFAB_MEDIA_KEYFRAME_REQUEST), ==, 2);

  /* A second later the budget is back. */
  g_usleep (1100 * 1000);
  g_assert_true (confab_test_ws_send_bytes (a, kr));
  confab_test_ws_send_marker (a, "alice", "m2");
  later = collect_until_marker (b, "m2", WAIT_MS);
  g_assert_cmpuint (count_media (later, CONFAB_MEDIA_KEYFRAME_REQUEST), ==, 1);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

static void
test_opaque_forwarded (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  static const guint8 garbage[] = { 0xff, 0xff, 0xff, 0x01, 0x02 };
  g_autoptr (GBytes) got = NULL;

  join_pair (relay, "r", &a, &b);
  drain (b, 200);
  g_assert_true (confab_test_ws_send (a, garbage, sizeof garbage));
  got = confab_test_ws_recv (b, WAIT_MS);
  g_assert_nonnull (got);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), garbage, sizeof garbage);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

/* ---- §4.4 stamping --------------------------------------------------------- */

static void
test_session_id_stamped (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  g_autoptr (GBytes) forged = NULL;
  g_autoptr (GBytes) zero = NULL;
  g_autoptr (ConfabPacketWrapper) p1 = NULL;
  g_autoptr (ConfabPacketWrapper) p2 = NULL;

  join_pair (relay, "r", &a, &b);
  drain (b, 200);
  /* alice pretends to be bob. */
  forged = confab_test_media_packet (CONFAB_MEDIA_AUDIO, "alice", "x", b->session_id);
  zero = confab_test_media_packet (CONFAB_MEDIA_AUDIO, "alice", "y", 0);
  g_assert_true (confab_test_ws_send_bytes (a, forged));
  g_assert_true (confab_test_ws_send_bytes (a, zero));
  p1 = confab_test_ws_recv_packet (b, WAIT_MS);
  p2 = confab_test_ws_recv_packet (b, WAIT_MS);
  g_assert_nonnull (p1);
  g_assert_nonnull (p2);
  g_assert_cmpuint (p1->session_id, ==, a->session_id);
  g_assert_cmpuint (p2->session_id, ==, a->session_id);
  /* The rest is untouched. */
  g_assert_cmpint (p1->packet_type, ==, CONFAB_PACKET_MEDIA);
  g_assert_cmpmem (p1->user_id.data, p1->user_id.len, "alice", 5);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

/* ---- §3 admission ---------------------------------------------------------- */

static guint
upgrade_status (guint16 port, const char *path)
{
  g_autoptr (ConfabTestWs) ws = confab_test_ws_connect (port, path);
  return ws->status;
}

static void
test_invalid_names (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autoptr (ConfabTestWs) spaced = NULL;
  g_autoptr (ConfabPacketWrapper) p = NULL;
  ConfabMeetingPacket *m;

  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby/bad!user/room"), ==, 400);
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby/alice/room.with.dots"), ==, 400);
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby/alice/room%2A"), ==, 400);
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby//room"), ==, 400);
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby/alice/room/extra"), ==, 400);
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby/alice"), ==, 400);
  /* The reserved system identity, spelled out and URL-encoded. */
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby/system-%26%5E%25%24%23%40%21/room"), ==,
                    400);
  /* Spaces become '_' first. */
  spaced = confab_test_ws_connect (relay->ws_port, "/lobby/alice%20smith/my%20room");
  g_assert_cmpuint (spaced->status, ==, 101);
  g_assert_null (NULL);
  {
    g_autoptr (ConfabPacketWrapper) assigned = confab_test_ws_recv_packet (spaced, WAIT_MS);
    g_assert_nonnull (assigned);
  }
  p = confab_test_ws_recv_packet (spaced, WAIT_MS);
  g_assert_nonnull (p);
  m = confab_test_meeting_of (p);
  g_assert_nonnull (m);
  g_assert_cmpstr (m->room_id, ==, "my_room");
  g_assert_cmpmem (m->creator_id.data, m->creator_id.len, "alice_smith", 11);
  confab__meeting_packet__free_unpacked (m, NULL);
}

static char *
b64url (const void *data, gsize len)
{
  char *s = g_base64_encode (data, len);

  g_strdelimit (s, "+", '-');
  g_strdelimit (s, "/", '_');
  for (char *e = s + strlen (s); e > s && e[-1] == '='; e--)
    e[-1] = '\0';
  return s;
}

/* Signs with gnutls directly, independent of the relay's own JWT code. */
static char *
make_token (const char *secret, const char *header_json, const char *claims_json)
{
  g_autofree char *h = b64url (header_json, strlen (header_json));
  g_autofree char *c = b64url (claims_json, strlen (claims_json));
  g_autofree char *input = g_strdup_printf ("%s.%s", h, c);
  g_autofree char *sig = NULL;
  guint8 mac[32];

  g_assert_cmpint (
      gnutls_hmac_fast (GNUTLS_MAC_SHA256, secret, strlen (secret), input, strlen (input), mac), ==,
      0);
  sig = b64url (mac, sizeof mac);
  return g_strdup_printf ("%s.%s", input, sig);
}

static const char *HS256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static char *
claims (const char *sub,
        const char *room,
        gboolean room_join,
        gboolean observer,
        gint64 exp,
        const char *iss)
{
  return g_strdup_printf (
      "{\"sub\":\"%s\",\"room\":\"%s\",\"room_join\":%s,\"is_host\":false,"
      "\"display_name\":\"%s Display\",\"observer\":%s,\"exp\":%" G_GINT64_FORMAT
      ",\"iss\":\"%s\"}",
      sub, room, room_join ? "true" : "false", sub, observer ? "true" : "false", exp, iss);
}

static char *
token_path (const char *secret, const char *claims_json)
{
  g_autofree char *t = make_token (secret, HS256, claims_json);
  return g_strdup_printf ("/lobby?token=%s", t);
}

static char *
write_secret (const char *secret)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("confab-jwt-XXXXXX", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, secret, -1, NULL));
  return path;
}

#define ISS "videocall-meeting-backend"

static void
test_tokens (void)
{
  g_autofree char *secret_file = write_secret ("s3cret\n");
  const char *args[] = { "--jwt-secret-file", secret_file, NULL };
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (args);
  g_autoptr (ConfabTestRelay) open_relay = confab_test_relay_start (NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *good_claims = claims ("tina", "tokroom", TRUE, FALSE, now + 600, ISS);
  g_autofree char *good = token_path ("s3cret", good_claims);
  g_autofree char *expired_claims = claims ("tina", "tokroom", TRUE, FALSE, now - 10, ISS);
  g_autofree char *expired = token_path ("s3cret", expired_claims);
  g_autofree char *wrong_key = token_path ("other", good_claims);
  g_autofree char *iss_claims = claims ("tina", "tokroom", TRUE, FALSE, now + 600, "someone-else");
  g_autofree char *wrong_iss = token_path ("s3cret", iss_claims);
  g_autofree char *nojoin_claims = claims ("tina", "tokroom", FALSE, FALSE, now + 600, ISS);
  g_autofree char *no_join = token_path ("s3cret", nojoin_claims);
  g_autofree char *none_tok = NULL;
  g_autofree char *none_alg = NULL;
  g_autoptr (ConfabTestWs) ok = NULL;
  g_autoptr (ConfabPacketWrapper) p = NULL;
  ConfabMeetingPacket *m;

  {
    g_autofree char *h = b64url ("{\"alg\":\"none\"}", 14);
    g_autofree char *c = b64url (good_claims, strlen (good_claims));
    none_tok = g_strdup_printf ("%s.%s.", h, c);
    none_alg = g_strdup_printf ("/lobby?token=%s", none_tok);
  }

  ok = confab_test_ws_connect (relay->ws_port, good);
  g_assert_cmpuint (ok->status, ==, 101);
  {
    g_autoptr (ConfabPacketWrapper) assigned = confab_test_ws_recv_packet (ok, WAIT_MS);
    g_assert_nonnull (assigned);
    g_assert_cmpint (assigned->packet_type, ==, CONFAB_PACKET_SESSION_ASSIGNED);
  }
  p = confab_test_ws_recv_packet (ok, WAIT_MS);
  g_assert_nonnull (p);
  m = confab_test_meeting_of (p);
  g_assert_nonnull (m);
  g_assert_cmpstr (m->room_id, ==, "tokroom");
  confab__meeting_packet__free_unpacked (m, NULL);

  g_assert_cmpuint (upgrade_status (relay->ws_port, expired), ==, 401);
  g_assert_cmpuint (upgrade_status (relay->ws_port, wrong_key), ==, 403);
  g_assert_cmpuint (upgrade_status (relay->ws_port, wrong_iss), ==, 403);
  g_assert_cmpuint (upgrade_status (relay->ws_port, no_join), ==, 403);
  g_assert_cmpuint (upgrade_status (relay->ws_port, none_alg), ==, 403);
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby?token=garbage"), ==, 403);
  g_assert_cmpuint (upgrade_status (relay->ws_port, "/lobby?token=a.b.c"), ==, 403);
  /* Without --jwt-secret-file tokens are refused, even good ones. */
  g_assert_cmpuint (upgrade_status (open_relay->ws_port, good), ==, 403);
}

static GPtrArray *
collect_for (ConfabTestWs *ws, guint ms)
{
  GPtrArray *seen = g_ptr_array_new_with_free_func (confab_test_packet_free);
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      ConfabPacketWrapper *p = confab_test_ws_recv_packet (ws, 50);
      if (p != NULL)
        g_ptr_array_add (seen, p);
    }
  return seen;
}

static void
test_observer (void)
{
  g_autofree char *secret_file = write_secret ("obs");
  const char *args[] = { "--jwt-secret-file", secret_file, NULL };
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (args);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *obs_claims = claims ("watcher", "r", FALSE, TRUE, now + 600, ISS);
  g_autofree char *obs_path = token_path ("obs", obs_claims);
  g_autoptr (ConfabTestWs) o = confab_test_ws_connect (relay->ws_port, obs_path);
  ConfabTestWs *a, *b;
  g_autoptr (GBytes) rtt = confab_test_media_packet (CONFAB_MEDIA_RTT, "watcher", NULL, 0);
  g_autoptr (GBytes) media = confab_test_media_packet (CONFAB_MEDIA_AUDIO, "watcher", "o", 0);
  g_autoptr (GBytes) echo = NULL;
  g_autoptr (GPtrArray) seen = NULL;
  g_autoptr (GPtrArray) at_observer = NULL;
  g_autoptr (GBytes) health = confab_test_packet (CONFAB_PACKET_HEALTH, "watcher", "h", 0);
  ConfabMeetingPacket *m;

  g_assert_cmpuint (o->status, ==, 101);
  join_pair (relay, "r", &a, &b);
  drain (o, 200);
  /* The observer activates (HEALTH) and sends media: dropped. */
  g_assert_true (confab_test_ws_send_bytes (o, health));
  g_assert_true (confab_test_ws_send_bytes (o, media));
  /* RTT is allowed: the echo also proves the media above was handled. (On
   * activation the observer is first told about alice and bob.) */
  g_assert_true (confab_test_ws_send_bytes (o, rtt));
  for (int i = 0; i < 3 && (echo == NULL || !g_bytes_equal (echo, rtt)); i++)
    {
      g_clear_pointer (&echo, g_bytes_unref);
      echo = confab_test_ws_recv (o, WAIT_MS);
    }
  g_assert_nonnull (echo);
  g_assert_true (g_bytes_equal (echo, rtt));
  confab_test_ws_send_marker (a, "alice", "m");
  seen = collect_until_marker (b, "m", WAIT_MS);
  g_assert_cmpuint (seen->len, ==, 0);
  /* The observer does see the room. */
  at_observer =
      collect_until_marker (o, (confab_test_ws_send_marker (b, "bob", "m2"), "m2"), WAIT_MS);
  g_assert_nonnull (at_observer);

  /* §4.8: the last member leaving ends the meeting (the observer hears it). */
  confab_test_ws_free (a);
  confab_test_ws_free (b);
  m = confab_test_ws_wait_meeting (o, CONFAB_MEETING_PARTICIPANT_LEFT, NULL, WAIT_MS);
  g_assert_nonnull (m);
  confab__meeting_packet__free_unpacked (m, NULL);
  m = confab_test_ws_wait_meeting (o, CONFAB_MEETING_ENDED, NULL, WAIT_MS);
  g_assert_nonnull (m);
  g_assert_cmpstr (m->room_id, ==, "r");
  confab__meeting_packet__free_unpacked (m, NULL);
}

/* ---- §1 size cap and fragments -------------------------------------------- */

static void
test_max_size (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  g_autoptr (ConfabTestWs) c = NULL;
  g_autofree guint8 *big = g_malloc (CONFAB_MAX_PACKET_SIZE + 1);
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GPtrArray) seen = NULL;

  memset (big, 0xfe, CONFAB_MAX_PACKET_SIZE + 1);
  join_pair (relay, "r", &a, &b);
  drain (b, 200);
  /* Exactly the cap, in fragments: delivered whole. */
  g_assert_true (confab_test_ws_send_fragmented (a, big, CONFAB_MAX_PACKET_SIZE, 7));
  got = confab_test_ws_recv (b, 10000);
  g_assert_nonnull (got);
  g_assert_cmpuint (g_bytes_get_size (got), ==, CONFAB_MAX_PACKET_SIZE);

  /* One byte more, in a single frame: carol is closed with 1009... */
  c = confab_test_ws_join (relay->ws_port, "carol", "r");
  confab_test_ws_activate (c, "carol");
  confab_test_ws_send (c, big, CONFAB_MAX_PACKET_SIZE + 1);
  g_assert_true (confab_test_ws_wait_closed (c, 10000));
  g_assert_cmpuint (c->close_code, ==, 1009);
  /* ...and the others carry on. */
  drain (b, 300);
  confab_test_ws_send_marker (a, "alice", "after");
  seen = collect_until_marker (b, "after", WAIT_MS);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

static void
test_fragmented (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  g_autoptr (GBytes) media =
      confab_test_media_packet (CONFAB_MEDIA_VIDEO, "alice", "fragmented-frame", 0);
  g_autoptr (ConfabPacketWrapper) p = NULL;
  ConfabMediaPacket *m;

  join_pair (relay, "r", &a, &b);
  drain (b, 200);
  g_assert_true (confab_test_ws_send_fragmented (a, g_bytes_get_data (media, NULL),
                                                 g_bytes_get_size (media), 5));
  p = confab_test_ws_recv_packet (b, WAIT_MS);
  g_assert_nonnull (p);
  m = confab_test_media_of (p);
  g_assert_nonnull (m);
  g_assert_cmpmem (m->data.data, m->data.len, "fragmented-frame", 16);
  confab__media_packet__free_unpacked (m, NULL);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

/* ---- §4.7 liveness --------------------------------------------------------- */

static void
test_idle_timeout (void)
{
  g_autoptr (ConfabTestRelay) relay = NULL;
  g_autoptr (ConfabTestWs) silent = NULL;
  g_autoptr (ConfabTestWs) alive = NULL;
  gint64 start;

  /* Hidden test knobs: 1.5 s idle timeout, pings every 300 ms. */
  g_setenv ("CONFAB_RELAY_IDLE_TIMEOUT_MS", "1500", TRUE);
  g_setenv ("CONFAB_RELAY_PING_INTERVAL_MS", "300", TRUE);
  relay = confab_test_relay_start (NULL);
  g_unsetenv ("CONFAB_RELAY_IDLE_TIMEOUT_MS");
  g_unsetenv ("CONFAB_RELAY_PING_INTERVAL_MS");

  silent = confab_test_ws_join (relay->ws_port, "silent", "r");
  silent->auto_pong = FALSE;
  alive = confab_test_ws_join (relay->ws_port, "alive", "r");
  start = g_get_monotonic_time ();
  /* "alive" answers pings; "silent" reads them but never answers. */
  while (g_get_monotonic_time () - start < 3000 * 1000)
    {
      g_autoptr (GBytes) m1 = confab_test_ws_recv (silent, 20);
      g_autoptr (GBytes) m2 = confab_test_ws_recv (alive, 20);
      if (silent->closed)
        break;
    }
  g_assert_true (silent->closed);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 1000 * 1000);
  g_assert_cmpuint (silent->pings, >=, 2);
  /* Pongs are traffic: the other connection outlives the timeout. */
  while (g_get_monotonic_time () - start < 3000 * 1000)
    {
      g_autoptr (GBytes) m2 = confab_test_ws_recv (alive, 50);
    }
  g_assert_false (alive->closed);
  g_assert_cmpuint (alive->pings, >=, 5);
}

/* ---- §4.8 leaving ---------------------------------------------------------- */

static void
test_leave_grace (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b, *b2;
  g_autoptr (GPtrArray) seen = NULL;
  ConfabMeetingPacket *m;
  guint64 b2_id;
  gint64 left_at;

  join_pair (relay, "r", &a, &b);
  drain (a, 200);
  /* bob drops and is back within the grace period: nobody hears of it. */
  confab_test_ws_free (b);
  g_usleep (300 * 1000);
  b2 = confab_test_ws_join (relay->ws_port, "bob", "r");
  b2_id = b2->session_id;
  confab_test_ws_activate (b2, "bob");
  seen = collect_for (a, 3000);
  g_assert_cmpuint (count_type (seen, CONFAB_PACKET_MEETING), ==, 0);

  /* bob leaves for good: PARTICIPANT_LEFT, but only after the grace period. */
  confab_test_ws_free (b2);
  left_at = g_get_monotonic_time ();
  m = confab_test_ws_wait_meeting (a, CONFAB_MEETING_PARTICIPANT_LEFT, "bob", WAIT_MS);
  g_assert_nonnull (m);
  g_assert_cmpint (g_get_monotonic_time () - left_at, >=, 1500 * 1000);
  g_assert_cmpuint (m->session_id, ==, b2_id);
  confab__meeting_packet__free_unpacked (m, NULL);
  confab_test_ws_free (a);
}

/* ---- §4.6 bounded queues and CONGESTION ------------------------------------ */

typedef struct
{
  ConfabTestWs *ws;
  gint stop;
  gint media;
  gint congestion;
} Reader;

static gpointer
reader_thread (gpointer data)
{
  Reader *r = data;

  while (!g_atomic_int_get (&r->stop))
    {
      g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (r->ws, 50);
      if (p == NULL)
        continue;
      if (p->packet_type == CONFAB_PACKET_MEDIA)
        g_atomic_int_inc (&r->media);
      if (p->packet_type == CONFAB_PACKET_CONGESTION)
        g_atomic_int_inc (&r->congestion);
    }
  return NULL;
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

/* ASan keeps freed memory in quarantine, so RSS says nothing about bounds. */
static gboolean
uses_asan (GSubprocess *process)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/maps", g_subprocess_get_identifier (process));
  g_autofree char *maps = NULL;

  return g_file_get_contents (path, &maps, NULL, NULL) && strstr (maps, "libasan") != NULL;
}

static void
test_queue_congestion (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *h;
  g_autoptr (ConfabTestWs) slow = NULL;
  g_autofree char *payload = g_malloc (16 * 1024 + 1);
  g_autoptr (GBytes) big = NULL;
  Reader reader = { 0 };
  GThread *thread;
  gsize rss_before, rss_after;
  gboolean congested = FALSE;
  gboolean under_valgrind = g_getenv ("CONFAB_UNDER_VALGRIND") != NULL;
  int packets = under_valgrind ? 1000 : 4000;
  ConfabMeetingPacket *m;

  join_pair (relay, "r", &a, &h);
  /* A receiver that stops reading, with a tiny receive buffer. */
  slow = confab_test_ws_connect_full (relay->ws_port, "/lobby/slowpoke/r", 4096);
  g_assert_cmpuint (slow->status, ==, 101);
  confab_test_ws_activate (slow, "slowpoke");
  m = confab_test_ws_wait_meeting (a, CONFAB_MEETING_PARTICIPANT_JOINED, "slowpoke", WAIT_MS);
  g_assert_nonnull (m);
  confab__meeting_packet__free_unpacked (m, NULL);
  drain (h, 300);

  memset (payload, 'v', 16 * 1024);
  payload[16 * 1024] = '\0';
  big = confab_test_media_packet (CONFAB_MEDIA_VIDEO, "alice", payload, 0);
  rss_before = rss_kib (relay->process);

  reader.ws = h;
  thread = g_thread_new ("healthy-reader", reader_thread, &reader);
  /* 4000 x 16 KiB = 64 MiB towards a receiver that takes none of it (a
   * quarter of it under valgrind, where the memory bound is not checked). */
  for (int i = 0; i < packets; i++)
    {
      g_assert_true (confab_test_ws_send_bytes (a, big));
      /* Paced to what the healthy reader takes (its queue never fills, even
       * on a loaded machine); slowpoke takes nothing at any pace. */
      for (int w = 0; w < 500 && (gint) g_atomic_int_get (&reader.media) < i - 100; w++)
        g_usleep (10 * 1000);
    }
  confab_test_ws_send_marker (a, "alice", "end");

  /* alice hears that slowpoke is congested by her. */
  for (int i = 0; i < 200 && !congested; i++)
    {
      g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (a, 50);
      if (p != NULL && p->packet_type == CONFAB_PACKET_CONGESTION)
        {
          g_assert_cmpuint (p->session_id, ==, a->session_id);
          g_assert_cmpmem (p->user_id.data, p->user_id.len, "slowpoke", 8);
          congested = TRUE;
        }
    }
  g_assert_true (congested);
  rss_after = rss_kib (relay->process);
  g_usleep (500 * 1000);
  g_atomic_int_set (&reader.stop, 1);
  g_thread_join (thread);

  /* The healthy receiver got (nearly) everything and no CONGESTION. */
  g_assert_cmpuint (g_atomic_int_get (&reader.media), >=, packets);
  g_assert_cmpint (g_atomic_int_get (&reader.congestion), ==, 0);
  /* Bounded: 64 MiB went by, the relay grew by far less. */
  g_test_message ("relay RSS %zu KiB -> %zu KiB", rss_before, rss_after);
  if (!under_valgrind && !uses_asan (relay->process))
    g_assert_cmpuint (rss_after, <, rss_before + 32 * 1024);
  confab_test_ws_free (a);
  confab_test_ws_free (h);
}

/* ---- malformed input ------------------------------------------------------- */

static void
test_malformed_input (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  ConfabTestWs *a, *b;
  g_autoptr (ConfabTestWs) x = NULL;
  g_autoptr (ConfabTestWs) y = NULL;
  g_autoptr (GBytes) media =
      confab_test_media_packet (CONFAB_MEDIA_VIDEO, "mallory", "0123456789abcdef", 0);
  g_autoptr (GPtrArray) s1 = NULL;
  g_autoptr (GPtrArray) s2 = NULL;
  g_autofree char *health = NULL;
  g_autofree guint8 *big = g_malloc0 (CONFAB_MAX_PACKET_SIZE + 2);
  guint status;
  GRand *rand = g_rand_new_with_seed (42);

  join_pair (relay, "r", &a, &b);
  x = confab_test_ws_join (relay->ws_port, "mallory", "r");
  /* Random garbage and every truncation of a real packet. */
  for (int i = 0; i < 200; i++)
    {
      guint8 junk[300];
      guint n = g_rand_int_range (rand, 0, sizeof junk);
      for (guint k = 0; k < n; k++)
        junk[k] = (guint8) g_rand_int (rand);
      g_assert_true (confab_test_ws_send (x, junk, n));
    }
  for (gsize n = 0; n < g_bytes_get_size (media); n++)
    g_assert_true (confab_test_ws_send (x, g_bytes_get_data (media, NULL), n));
  /* Text frames only count as liveness. */
  for (int i = 0; i < 50; i++)
    g_assert_true (confab_test_ws_send_frame (x, 0x1, TRUE, "hello", 5));
  /* A flood of tiny packets. */
  for (int i = 0; i < 20000; i++)
    g_assert_true (confab_test_ws_send (x, "\x08", 1));
  /* A fragmented message that grows past the cap: closed. */
  y = confab_test_ws_join (relay->ws_port, "trudy", "r");
  confab_test_ws_send_fragmented (y, big, CONFAB_MAX_PACKET_SIZE + 2, 40);
  g_assert_true (confab_test_ws_wait_closed (y, 10000));
  g_assert_cmpuint (y->close_code, ==, 1009);
  /* A frame with a reserved opcode is a protocol error for that client only. */
  confab_test_ws_send_frame (x, 0x3, TRUE, "??", 2);
  g_assert_true (confab_test_ws_wait_closed (x, WAIT_MS));
  g_rand_free (rand);

  /* The relay is alive and alice and bob still talk, both ways. */
  drain (a, 500);
  drain (b, 500);
  health = confab_test_http_get (relay->ws_port, "/healthz", &status);
  g_assert_cmpuint (status, ==, 200);
  confab_test_ws_send_marker (a, "alice", "a-to-b");
  s1 = collect_until_marker (b, "a-to-b", WAIT_MS);
  confab_test_ws_send_marker (b, "bob", "b-to-a");
  s2 = collect_until_marker (a, "b-to-a", WAIT_MS);
  confab_test_ws_free (a);
  confab_test_ws_free (b);
}

/* ---- HTTP endpoints -------------------------------------------------------- */

static void
test_http (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *healthz = NULL;
  g_autofree char *version = NULL;
  g_autofree char *config = NULL;
  g_autofree char *meeting = NULL;
  g_autofree char *bad = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *expected_ws = NULL;
  const char *prefix = "window.__APP_CONFIG = ";
  JsonObject *obj;
  guint status;

  healthz = confab_test_http_get (relay->ws_port, "/healthz", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (healthz, ==, "Ok");

  version = confab_test_http_get (relay->ws_port, "/version", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (version, CONFAB_VERSION));

  config = confab_test_http_get (relay->ws_port, "/config.js", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (g_str_has_prefix (config, prefix));
  g_assert_true (g_str_has_suffix (g_strchomp (config), ";"));
  config[strlen (config) - 1] = '\0';
  g_assert_true (json_parser_load_from_data (parser, config + strlen (prefix), -1, NULL));
  obj = json_node_get_object (json_parser_get_root (parser));
  expected_ws = g_strdup_printf ("ws://127.0.0.1:%u", relay->ws_port);
  g_assert_cmpstr (json_object_get_string_member (obj, "wsUrl"), ==, expected_ws);
  g_assert_cmpstr (json_object_get_string_member (obj, "webTransportHost"), ==, "");
  g_assert_false (json_object_get_boolean_member (obj, "webTransportEnabled"));
  g_assert_false (json_object_get_boolean_member (obj, "e2eeEnabled"));
  g_assert_cmpstr (json_object_get_string_member (obj, "serverVersion"), ==, CONFAB_VERSION);

  meeting = confab_test_http_get (relay->ws_port, "/meeting/standup", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (meeting, "standup"));
  g_assert_nonnull (strstr (meeting, "<html"));

  bad = confab_test_http_get (relay->ws_port, "/meeting/%3Cscript%3E", &status);
  g_assert_cmpuint (status, ==, 400);
  missing = confab_test_http_get (relay->ws_port, "/nothing-here", &status);
  g_assert_cmpuint (status, ==, 404);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay/session-assigned", test_session_assigned);
  g_test_add_func ("/relay/testing-then-active", test_testing_then_active);
  g_test_add_func ("/relay/rtt-echo", test_rtt_echo);
  g_test_add_func ("/relay/health-consumed", test_health_consumed);
  g_test_add_func ("/relay/congestion-from-client-dropped", test_congestion_dropped);
  g_test_add_func ("/relay/system-identity-packet-dropped", test_system_identity_packet_dropped);
  g_test_add_func ("/relay/keyframe-request-limit", test_keyframe_request_limit);
  g_test_add_func ("/relay/opaque-forwarded", test_opaque_forwarded);
  g_test_add_func ("/relay/session-id-stamped", test_session_id_stamped);
  g_test_add_func ("/relay/invalid-names", test_invalid_names);
  g_test_add_func ("/relay/tokens", test_tokens);
  g_test_add_func ("/relay/observer-and-meeting-ended", test_observer);
  g_test_add_func ("/relay/max-size", test_max_size);
  g_test_add_func ("/relay/fragmented", test_fragmented);
  g_test_add_func ("/relay/idle-timeout", test_idle_timeout);
  g_test_add_func ("/relay/leave-grace", test_leave_grace);
  g_test_add_func ("/relay/queue-congestion", test_queue_congestion);
  g_test_add_func ("/relay/malformed-input", test_malformed_input);
  g_test_add_func ("/relay/http", test_http);
  return g_test_run ();
}
