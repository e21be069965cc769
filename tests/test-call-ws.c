/* test-call-ws.c: ConfabWsTransport against the real confab-relay: whole
 * packets of every size arrive intact and in order (messages far larger than
 * one read are reassembled), and a closed relay is reported. */
#define G_LOG_DOMAIN "test-call-ws"

#include "confab-packet.h"
#include "confab-test-util.h"
#include "confab-ws-transport.h"

#include <string.h>

typedef struct
{
  ConfabTransport *transport;
  guint64 session_id;
  gboolean connected;
  gboolean closed;
  GError *close_error;
  GPtrArray *media; /* received MEDIA PacketWrappers (GBytes) */
} Client;

static void
on_connected (ConfabTransport *transport, Client *client)
{
  client->connected = TRUE;
}

static void
on_packet (ConfabTransport *transport, GBytes *bytes, Client *client)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  ConfabPacketWrapper *wrapper = confab__packet_wrapper__unpack (NULL, len, data);

  g_assert_nonnull (wrapper);
  if (wrapper->packet_type == CONFAB_PACKET_SESSION_ASSIGNED)
    client->session_id = wrapper->session_id;
  else if (wrapper->packet_type == CONFAB_PACKET_MEDIA)
    g_ptr_array_add (client->media, g_bytes_ref (bytes));
  confab__packet_wrapper__free_unpacked (wrapper, NULL);
}

static void
on_closed (ConfabTransport *transport, const GError *error, Client *client)
{
  client->closed = TRUE;
  client->close_error = error != NULL ? g_error_copy (error) : NULL;
}

static void
client_start (Client *client, const char *ws_base, const char *user, const char *room)
{
  g_autofree char *url = g_strdup_printf ("%s/lobby/%s/%s", ws_base, user, room);
  g_autoptr (GError) error = NULL;

  client->media = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  client->transport = confab_ws_transport_new (url, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (confab_transport_get_kind (client->transport), ==, "websocket");
  g_signal_connect (client->transport, "connected", G_CALLBACK (on_connected), client);
  g_signal_connect (client->transport, "packet", G_CALLBACK (on_packet), client);
  g_signal_connect (client->transport, "closed", G_CALLBACK (on_closed), client);
  confab_transport_open (client->transport);
}

static void
client_clear (Client *client)
{
  g_clear_object (&client->transport);
  g_clear_pointer (&client->media, g_ptr_array_unref);
  g_clear_error (&client->close_error);
  /* Let the transport's lws context go (an idle callback). */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop (blocking, no polling) until @cond holds or @timeout_ms passes. */
static gboolean
spin_until (gboolean (*cond) (gpointer), gpointer data, guint timeout_ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (timeout_ms, on_deadline, &expired);

  while (!cond (data) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return cond (data);
}

static gboolean
is_closed (gpointer data)
{
  return ((Client *) data)->closed;
}

static gboolean
is_assigned (gpointer data)
{
  return ((Client *) data)->session_id != 0;
}

static gboolean
both_assigned (gpointer data)
{
  Client *c = data;
  return c[0].session_id != 0 && c[1].session_id != 0;
}

/* A MEDIA packet whose MediaPacket carries @size bytes of a pattern seeded by @seed. */
static GBytes *
big_packet (const char *user, gsize size, guint seed, GBytes **payload_out)
{
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  g_autofree guint8 *payload = g_malloc (MAX (size, 1));
  g_autoptr (GBytes) inner = NULL;
  gsize len;
  const guint8 *data;

  for (gsize i = 0; i < size; i++)
    payload[i] = (guint8) ((i * 131 + seed) ^ (i >> 8));
  media.media_type = CONFAB_MEDIA_VIDEO;
  media.user_id.data = (guint8 *) user;
  media.user_id.len = strlen (user);
  media.data.data = payload;
  media.data.len = size;
  media.frame_type = (char *) "key";
  inner = confab_message_pack (&media.base);
  data = g_bytes_get_data (inner, &len);
  *payload_out = g_bytes_new (payload, size);
  return confab_packet_wrap (CONFAB_PACKET_MEDIA, user, 0, data, len);
}

typedef struct
{
  Client *client;
  guint want;
} MediaCount;

static gboolean
has_media (gpointer data)
{
  MediaCount *count = data;
  return count->client->media->len >= count->want;
}

static void
test_packet_sizes (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = g_strdup_printf ("sizes-%08x", g_random_int ());
  /* 1 byte, one read's worth, several reads, and near the 4 MB cap. */
  static const gsize sizes[] = { 1, 65000, 300000, 3900000 };
  GBytes *payloads[G_N_ELEMENTS (sizes)];
  Client c[2] = { { 0 } };
  g_autoptr (GBytes) hello = NULL;
  g_autoptr (GBytes) hello_payload = NULL;
  MediaCount count = { &c[1], 0 };

  client_start (&c[0], relay->ws_base, "sender", room);
  client_start (&c[1], relay->ws_base, "receiver", room);
  g_assert_true (spin_until (both_assigned, c, 10000));
  g_assert_true (c[0].connected && c[1].connected);

  /* The receiver's first non-probe packet makes it active in the room; then
   * wait until the sender's hello reaches it, so both are in. */
  hello = big_packet ("receiver", 4, 0, &hello_payload);
  g_assert_true (confab_transport_send (c[1].transport, hello));
  for (int i = 0; i < 50 && c[1].media->len == 0; i++)
    {
      g_autoptr (GBytes) ping_payload = NULL;
      g_autoptr (GBytes) ping = big_packet ("sender", 4, 0, &ping_payload);
      g_assert_true (confab_transport_send (c[0].transport, ping));
      count.want = 1;
      spin_until (has_media, &count, 100);
    }
  g_assert_cmpuint (c[1].media->len, >=, 1);
  g_ptr_array_set_size (c[1].media, 0);
  /* Let any late hellos land before counting. */
  count.want = G_MAXUINT;
  spin_until (has_media, &count, 200);
  g_ptr_array_set_size (c[1].media, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) packet = big_packet ("sender", sizes[i], (guint) i, &payloads[i]);
      g_assert_true (confab_transport_send (c[0].transport, packet));
    }
  count.want = G_N_ELEMENTS (sizes);
  g_assert_true (spin_until (has_media, &count, 20000));

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (c[1].media, i), &len);
      ConfabPacketWrapper *wrapper = confab__packet_wrapper__unpack (NULL, len, data);
      ConfabMediaPacket *media;

      g_assert_nonnull (wrapper);
      /* The relay stamps the sender's session. */
      g_assert_cmpuint (wrapper->session_id, ==, c[0].session_id);
      media = confab__media_packet__unpack (NULL, wrapper->data.len, wrapper->data.data);
      g_assert_nonnull (media);
      g_assert_cmpmem (media->data.data, media->data.len, g_bytes_get_data (payloads[i], NULL),
                       sizes[i]);
      confab__media_packet__free_unpacked (media, NULL);
      confab__packet_wrapper__free_unpacked (wrapper, NULL);
      g_bytes_unref (payloads[i]);
    }
  g_assert_false (c[0].closed);
  g_assert_false (c[1].closed);

  /* A polite close ends with "closed" and no error. */
  confab_transport_close (c[0].transport);
  g_assert_true (spin_until (is_closed, &c[0], 5000));
  g_assert_no_error (c[0].close_error);
  client_clear (&c[0]);
  client_clear (&c[1]);
}

static void
test_relay_gone (void)
{
  ConfabTestRelay *relay = confab_test_relay_start (NULL);
  Client client = { 0 };
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GBytes) packet = big_packet ("late", 10, 0, &payload);

  client_start (&client, relay->ws_base, "abandoned", "gone");
  g_assert_true (spin_until (is_assigned, &client, 10000));

  /* The relay goes away mid-call: "closed" with an error saying so. */
  confab_test_relay_stop (relay);
  g_assert_true (spin_until (is_closed, &client, 10000));
  g_assert_error (client.close_error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CLOSED);
  g_assert_false (confab_transport_is_open (client.transport));
  g_assert_false (confab_transport_send (client.transport, packet));
  client_clear (&client);
}

static void
test_refused (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *url = g_strdup_printf ("%s/lobby?token=garbage", relay->ws_base);
  g_autoptr (GError) error = NULL;
  Client client = { 0 };

  client.media = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  client.transport = confab_ws_transport_new (url, &error);
  g_assert_no_error (error);
  g_signal_connect (client.transport, "closed", G_CALLBACK (on_closed), &client);
  confab_transport_open (client.transport);
  g_assert_true (spin_until (is_closed, &client, 10000));
  g_assert_error (client.close_error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_REFUSED);
  client_clear (&client);
}

static void
test_bad_urls (void)
{
  static const char *bad[] = { "http://127.0.0.1/lobby/a/b", "ws://", "not a url", "ws:///x" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      ConfabTransport *transport = confab_ws_transport_new (bad[i], &error);

      g_assert_null (transport);
      g_assert_error (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net/ws/packet-sizes", test_packet_sizes);
  g_test_add_func ("/net/ws/relay-gone", test_relay_gone);
  g_test_add_func ("/net/ws/refused", test_refused);
  g_test_add_func ("/net/ws/bad-urls", test_bad_urls);
  return g_test_run ();
}
