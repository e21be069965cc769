/* test-relay-nats.c: rooms spanning relays over a real nats-server, subjects of
 * PROTOCOL.md §4.5, and a relay that outlives a nats-server restart. */
#define G_LOG_DOMAIN "confab-test"

#include <nats/nats.h>
#include <string.h>

#include "confab-packet.h"
#include "confab-test-util.h"
#include "confab-test-ws.h"

#define WAIT_MS 5000

/* TRUE when @to receives the marker @tag within @timeout_ms; fills @sender. */
static gboolean
receives_marker (ConfabTestWs *to, const char *tag, guint timeout_ms, guint64 *sender)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (to, 50);
      if (p != NULL && confab_test_is_marker (p, tag))
        {
          if (sender != NULL)
            *sender = p->session_id;
          return TRUE;
        }
    }
  return FALSE;
}

/* Sends markers from @from every 200 ms until @to gets one (bounded). */
static gboolean
crosses (ConfabTestWs *from, const char *user, ConfabTestWs *to, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint i = 0;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *tag = g_strdup_printf ("cross-%u", i++);
      confab_test_ws_send_marker (from, user, tag);
      if (receives_marker (to, tag, 200, NULL))
        return TRUE;
    }
  return FALSE;
}

static ConfabTestRelay *
start_relay (ConfabTestNats *nats, const char *server_id)
{
  const char *args[] = { "--nats", nats->url, "--server-id", server_id, NULL };
  return confab_test_relay_start (args);
}

static natsConnection *
test_nats_connect (ConfabTestNats *nats)
{
  natsConnection *nc = NULL;

  g_assert_cmpint (natsConnection_ConnectTo (&nc, nats->url), ==, NATS_OK);
  return nc;
}

/* Next message on @sub parsed as a PacketWrapper, or NULL. */
static ConfabPacketWrapper *
next_packet (natsSubscription *sub, char **subject, guint timeout_ms)
{
  natsMsg *msg = NULL;
  ConfabPacketWrapper *p;

  if (natsSubscription_NextMsg (&msg, sub, timeout_ms) != NATS_OK)
    return NULL;
  if (subject != NULL)
    *subject = g_strdup (natsMsg_GetSubject (msg));
  p = confab__packet_wrapper__unpack (NULL, (size_t) natsMsg_GetDataLength (msg),
                                      (const guint8 *) natsMsg_GetData (msg));
  natsMsg_Destroy (msg);
  return p;
}

static void
test_two_relays (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  g_autoptr (ConfabTestRelay) r1 = start_relay (nats, "relay-one");
  g_autoptr (ConfabTestRelay) r2 = start_relay (nats, "relay-two");
  g_autoptr (ConfabTestWs) a = confab_test_ws_join (r1->ws_port, "alice", "span");
  g_autoptr (ConfabTestWs) b = NULL;
  ConfabMeetingPacket *m;
  guint64 sender = 0;

  confab_test_ws_activate (a, "alice");
  g_usleep (200 * 1000);
  b = confab_test_ws_join (r2->ws_port, "bob", "span");
  confab_test_ws_activate (b, "bob");

  /* alice (relay one) hears bob (relay two) join... */
  m = confab_test_ws_wait_meeting (a, CONFAB_MEETING_PARTICIPANT_JOINED, "bob", WAIT_MS);
  g_assert_nonnull (m);
  g_assert_cmpuint (m->session_id, ==, b->session_id);
  confab__meeting_packet__free_unpacked (m, NULL);
  /* ...and bob is introduced to alice by the other relay (presence). */
  m = confab_test_ws_wait_meeting (b, CONFAB_MEETING_PARTICIPANT_JOINED, "alice", WAIT_MS);
  g_assert_nonnull (m);
  g_assert_cmpuint (m->session_id, ==, a->session_id);
  confab__meeting_packet__free_unpacked (m, NULL);

  /* Media crosses both ways, stamped with the sender's session. */
  confab_test_ws_send_marker (a, "alice", "a-to-b");
  g_assert_true (receives_marker (b, "a-to-b", WAIT_MS, &sender));
  g_assert_cmpuint (sender, ==, a->session_id);
  confab_test_ws_send_marker (b, "bob", "b-to-a");
  g_assert_true (receives_marker (a, "b-to-a", WAIT_MS, &sender));
  g_assert_cmpuint (sender, ==, b->session_id);
}

static void
test_subjects (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  g_autoptr (ConfabTestRelay) relay = start_relay (nats, "relay-x");
  natsConnection *nc = test_nats_connect (nats);
  natsSubscription *room_sub = NULL, *health_sub = NULL;
  g_autoptr (ConfabTestWs) a = NULL;
  g_autoptr (GBytes) health = confab_test_packet (CONFAB_PACKET_HEALTH, "alice", "stats", 0);
  g_autoptr (ConfabPacketWrapper) p = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *expected = NULL;
  gboolean saw_joined = FALSE, saw_media = FALSE, saw_left = FALSE, saw_ended = FALSE;
  ConfabMeetingPacket *m;

  g_assert_cmpint (natsConnection_SubscribeSync (&room_sub, nc, "room.subj.*"), ==, NATS_OK);
  g_assert_cmpint (natsConnection_SubscribeSync (&health_sub, nc, "health.diagnostics.>"), ==,
                   NATS_OK);
  g_assert_cmpint (natsConnection_Flush (nc), ==, NATS_OK);

  a = confab_test_ws_join (relay->ws_port, "alice", "subj");
  confab_test_ws_activate (a, "alice");
  /* HEALTH goes to health.diagnostics.{region}.{service}.{server_id}. */
  g_assert_true (confab_test_ws_send_bytes (a, health));
  p = next_packet (health_sub, &subject, WAIT_MS);
  g_assert_nonnull (p);
  g_assert_cmpint (p->packet_type, ==, CONFAB_PACKET_HEALTH);
  g_assert_cmpstr (subject, ==, "health.diagnostics.local.websocket.relay-x");
  g_clear_pointer (&p, confab_test_packet_free);
  g_clear_pointer (&subject, g_free);

  /* JOINED on room.{room}.system, media on room.{room}.{session_id}. */
  expected = g_strdup_printf ("room.subj.%" G_GUINT64_FORMAT, a->session_id);
  for (int i = 0; i < 20 && !(saw_joined && saw_media); i++)
    {
      p = next_packet (room_sub, &subject, 500);
      if (p == NULL)
        continue;
      if (strcmp (subject, "room.subj.system") == 0 && (m = confab_test_meeting_of (p)) != NULL)
        {
          saw_joined |=
              m->event_type == CONFAB_MEETING_PARTICIPANT_JOINED && m->session_id == a->session_id;
          confab__meeting_packet__free_unpacked (m, NULL);
        }
      if (strcmp (subject, expected) == 0 && p->packet_type == CONFAB_PACKET_MEDIA)
        {
          g_assert_cmpuint (p->session_id, ==, a->session_id);
          saw_media = TRUE;
        }
      g_clear_pointer (&p, confab_test_packet_free);
      g_clear_pointer (&subject, g_free);
    }
  g_assert_true (saw_joined);
  g_assert_true (saw_media);

  /* The last member leaves: LEFT after the grace period, then MEETING_ENDED. */
  g_clear_pointer (&a, confab_test_ws_free);
  for (int i = 0; i < 20 && !saw_ended; i++)
    {
      p = next_packet (room_sub, &subject, 500);
      if (p == NULL)
        continue;
      if ((m = confab_test_meeting_of (p)) != NULL)
        {
          g_assert_cmpstr (subject, ==, "room.subj.system");
          if (m->event_type == CONFAB_MEETING_PARTICIPANT_LEFT)
            saw_left = TRUE;
          if (m->event_type == CONFAB_MEETING_ENDED)
            {
              g_assert_true (saw_left);
              saw_ended = TRUE;
            }
          confab__meeting_packet__free_unpacked (m, NULL);
        }
      g_clear_pointer (&p, confab_test_packet_free);
      g_clear_pointer (&subject, g_free);
    }
  g_assert_true (saw_ended);

  natsSubscription_Destroy (room_sub);
  natsSubscription_Destroy (health_sub);
  natsConnection_Destroy (nc);
}

static void
test_nats_restart (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  guint16 port = nats->port;
  g_autoptr (ConfabTestRelay) r1 = start_relay (nats, "relay-one");
  g_autoptr (ConfabTestRelay) r2 = start_relay (nats, "relay-two");
  g_autoptr (ConfabTestWs) a = confab_test_ws_join (r1->ws_port, "alice", "durable");
  g_autoptr (ConfabTestWs) c = confab_test_ws_join (r1->ws_port, "carol", "durable");
  g_autoptr (ConfabTestWs) b = confab_test_ws_join (r2->ws_port, "bob", "durable");

  confab_test_ws_activate (a, "alice");
  confab_test_ws_activate (c, "carol");
  confab_test_ws_activate (b, "bob");
  g_assert_true (crosses (a, "alice", b, WAIT_MS));

  /* nats-server goes away: relay one keeps serving its own clients. */
  g_clear_pointer (&nats, confab_test_nats_stop);
  confab_test_ws_send_marker (a, "alice", "local-while-down");
  g_assert_true (receives_marker (c, "local-while-down", WAIT_MS, NULL));
  confab_test_ws_send_marker (c, "carol", "local-while-down-2");
  g_assert_true (receives_marker (a, "local-while-down-2", WAIT_MS, NULL));

  /* Back on the same port: both relays reconnect and resubscribe. */
  nats = confab_test_nats_start (port);
  g_assert_true (crosses (a, "alice", b, 15000));
  g_assert_true (crosses (b, "bob", a, WAIT_MS));
}

static void
test_starts_without_nats (void)
{
  guint16 port = confab_test_free_port ();
  g_autofree char *url = g_strdup_printf ("nats://127.0.0.1:%u", port);
  const char *args[] = { "--nats", url, NULL };
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (args);
  g_autoptr (ConfabTestWs) a = confab_test_ws_join (relay->ws_port, "alice", "solo");
  g_autoptr (ConfabTestWs) b = confab_test_ws_join (relay->ws_port, "bob", "solo");
  g_autoptr (ConfabTestNats) nats = NULL;
  g_autoptr (ConfabTestRelay) other = NULL;
  g_autoptr (ConfabTestWs) c = NULL;

  confab_test_ws_activate (a, "alice");
  confab_test_ws_activate (b, "bob");
  /* No nats-server at all: one relay still works on its own. */
  g_assert_true (crosses (a, "alice", b, WAIT_MS));

  /* When it appears, the relay connects and the room spans relays. */
  nats = confab_test_nats_start (port);
  other = start_relay (nats, "late");
  c = confab_test_ws_join (other->ws_port, "carol", "solo");
  confab_test_ws_activate (c, "carol");
  g_assert_true (crosses (a, "alice", c, 15000));
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay/nats/two-relays", test_two_relays);
  g_test_add_func ("/relay/nats/subjects", test_subjects);
  g_test_add_func ("/relay/nats/restart", test_nats_restart);
  g_test_add_func ("/relay/nats/starts-without-nats", test_starts_without_nats);
  rc = g_test_run ();
  nats_Close ();
  return rc;
}
